"""Jet content of the top-tagging samples (definition of arXiv:1902.09914), built columnar from Pythia8 records.

One entry per jet: anti-kT jets (R = 0.8 by default) of all visible final-state particles. With
``jets_per_event: leading`` (the landscape definition) only the leading jet of each event is a candidate, and it is
kept when its pT lies in [``jet_min_pt``, ``jet_max_pt``] and |eta| < ``jet_max_eta`` (an event whose leading jet
is outside the window gives no jet: the next jet is not taken instead); with ``all`` every jet in the window is a
candidate. In the ttbar sample a candidate is kept (label 1) when it lies within ``match_dr`` of a hadronically
decaying top and of each of that top's three decay quarks (b, q, q'); in the QCD sample every candidate is kept
(label 0). Branches: ``event`` (the event's number in its shard, so that the split keeps the jets of one event
together), ``jet_pt``, ``jet_eta``, ``jet_phi``, ``jet_mass``, ``is_signal_new`` and the leading
``max_constituents`` constituents as jagged ``part_E``, ``part_px``, ``part_py``, ``part_pz`` (pT-ordered, no zero
padding; counter ``npart``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import awkward as ak
import fastjet
import numpy as np
import vector

from ml4hep.generate.record import (
    LIGHT_AND_B_QUARKS,
    NEUTRINOS,
    TOP,
    W_BOSON,
    FlatRecord,
    delta_r,
    find_ancestor,
    jagged,
    pt_eta_phi_m,
)

vector.register_awkward()


def hadronic_top_quarks(rec: FlatRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tops with their three decay quarks.

    Args:
        rec: The flattened batch.

    Returns:
        (event, top eta, top phi, quark eta (n, 3), quark phi (n, 3)) for every top whose b and W -> q q' quarks
        are all found (leptonically decaying tops are left out).
    """
    abs_pid = rec.abs_pid
    quark = np.flatnonzero(np.isin(abs_pid, LIGHT_AND_B_QUARKS) & np.isin(abs_pid[rec.mother1], (TOP, W_BOSON)))
    top_of_quark = find_ancestor(rec, quark, (TOP,), stop_at_partons=False)
    quark, top_of_quark = quark[top_of_quark >= 0], top_of_quark[top_of_quark >= 0]
    order = np.lexsort((quark, top_of_quark))
    quark, top_of_quark = quark[order], top_of_quark[order]
    tops, first, n_quarks = np.unique(top_of_quark, return_index=True, return_counts=True)
    complete = n_quarks == 3
    tops, first = tops[complete], first[complete]
    quark_table = quark[first[:, None] + np.arange(3)[None, :]]
    _, top_eta, top_phi, _ = pt_eta_phi_m(rec.px[tops], rec.py[tops], rec.pz[tops], rec.e[tops])
    _, q_eta, q_phi, _ = pt_eta_phi_m(rec.px[quark_table], rec.py[quark_table], rec.pz[quark_table], rec.e[quark_table])
    return rec.event[tops], top_eta, top_phi, q_eta, q_phi


def match_jets_to_tops(
    jet_event: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    tops: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    max_dr: float,
) -> np.ndarray:
    """Whether each jet contains a top and its three decay quarks within ``max_dr``.

    Args:
        jet_event: Event index of each jet.
        jet_eta: Jet pseudorapidity.
        jet_phi: Jet azimuth.
        tops: Output of :func:`hadronic_top_quarks`.
        max_dr: Matching radius.

    Returns:
        Boolean per jet.
    """
    top_event, top_eta, top_phi, q_eta, q_phi = tops
    matched = np.zeros(len(jet_event), dtype=bool)
    # Loop over the k-th top of each event (events hold at most a few tops), all jets at once.
    top_order = np.argsort(top_event, kind="stable")
    n_events = int(max(jet_event.max(initial=-1), top_event.max(initial=-1)) + 1)
    tops_per_event = np.bincount(top_event, minlength=n_events)
    top_start = np.concatenate([[0], np.cumsum(tops_per_event)[:-1]])
    for k in range(int(tops_per_event.max(initial=0))):
        has_top = tops_per_event[jet_event] > k
        jets = np.flatnonzero(has_top)
        top = top_order[top_start[jet_event[jets]] + k]
        close = delta_r(jet_eta[jets], jet_phi[jets], top_eta[top], top_phi[top]) < max_dr
        quarks_close = np.all(
            delta_r(jet_eta[jets, None], jet_phi[jets, None], q_eta[top], q_phi[top]) < max_dr, axis=1
        )
        matched[jets[close & quarks_close]] = True
    return matched


JETS_PER_EVENT = ("leading", "all")
"""Values of ``samples.toptag.jets_per_event``."""


def candidate_jets(jet_pt: ak.Array, jets_per_event: str) -> ak.Array:
    """Which jets of each event may be kept before the pT, eta and top-matching cuts.

    Args:
        jet_pt: Jagged pT of the jets of each event (any order).
        jets_per_event: ``leading`` (only each event's highest-pT jet) or ``all``.

    Returns:
        Jagged booleans like ``jet_pt``.

    Example:
        >>> candidate_jets(ak.Array([[600.0, 700.0], [], [560.0]]), "leading").tolist()
        [[False, True], [], [True]]
    """
    if jets_per_event == "all":
        return ak.ones_like(jet_pt, dtype=bool)
    if jets_per_event != "leading":
        raise ValueError(f"jets_per_event must be one of {', '.join(JETS_PER_EVENT)}, not {jets_per_event!r}")
    leading = ak.local_index(jet_pt, axis=1) == ak.argmax(jet_pt, axis=1, keepdims=True)
    return ak.fill_none(leading, False)  # argmax of an event without jets is None


def build_toptag_jets(
    batch: ak.Array, options: Mapping[str, Any], signal: bool, first_event: int = 0
) -> dict[str, ak.Array | np.ndarray]:
    """Turn a ``nextBatch`` result into per-jet branches of the top-tagging samples.

    Args:
        batch: Events from ``Pythia.nextBatch``.
        options: The ``samples.toptag`` config section.
        signal: True for the ttbar sample (keep matched top jets, label 1), False for QCD (all jets, label 0).
        first_event: Number of the batch's first event in its shard (the ``event`` branch counts from it).

    Returns:
        Branch name -> array with one entry per kept jet.
    """
    rec = FlatRecord.from_batch(batch.prt)
    final = np.flatnonzero(rec.is_final & ~np.isin(rec.abs_pid, NEUTRINOS))
    inputs = jagged(
        {"px": rec.px[final], "py": rec.py[final], "pz": rec.pz[final], "E": rec.e[final]},
        rec.event[final],
        rec.n_events,
    )
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, float(options["jet_r"]))
    sequence = fastjet.ClusterSequence(inputs, definition)
    min_pt = float(options["jet_min_pt"])
    # The leading jet of an event below jet_min_pt leaves no candidate, so clustering with the cut loses nothing.
    clustered = sequence.inclusive_jets(min_pt=min_pt)
    constituents = sequence.constituents(min_pt=min_pt)
    jets = ak.zip(
        {"px": clustered.px, "py": clustered.py, "pz": clustered.pz, "E": clustered.E}, with_name="Momentum4D"
    )
    window = (jets.pt <= options["jet_max_pt"]) & (np.abs(jets.eta) < options["jet_max_eta"])
    window = window & candidate_jets(jets.pt, str(options["jets_per_event"]))
    jet_event = np.repeat(np.arange(rec.n_events), ak.to_numpy(ak.num(jets)))
    flat_window = ak.to_numpy(ak.flatten(window))
    flat_jets = ak.flatten(jets)
    eta = ak.to_numpy(flat_jets.eta)
    phi = ak.to_numpy(flat_jets.phi)
    if signal:
        keep = flat_window & match_jets_to_tops(
            jet_event, eta, phi, hadronic_top_quarks(rec), float(options["match_dr"])
        )
    else:
        keep = flat_window
    parts = ak.flatten(constituents, axis=1)[keep]
    parts = ak.zip({"E": parts.E, "px": parts.px, "py": parts.py, "pz": parts.pz})
    order = ak.argsort(np.hypot(parts.px, parts.py), axis=1, ascending=False)
    parts = parts[order][:, : int(options["max_constituents"])]
    kept = flat_jets[keep]
    return {
        "event": (jet_event[keep] + int(first_event)).astype(np.int64),
        "jet_pt": ak.to_numpy(kept.pt),
        "jet_eta": ak.to_numpy(kept.eta),
        "jet_phi": ak.to_numpy(kept.phi),
        "jet_mass": ak.to_numpy(kept.mass),
        "is_signal_new": np.full(int(np.sum(keep)), int(signal), dtype=np.int32),
        "part": parts,
    }


class TopTagJetBuilder:
    """:func:`build_toptag_jets` over the successive batches of one shard, numbering the events across batches.

    Args:
        options: The ``samples.toptag`` config section.
        signal: True for the ttbar sample.
    """

    def __init__(self, options: Mapping[str, Any], signal: bool) -> None:
        self.options = options
        self.signal = signal
        self.events_seen = 0

    def __call__(self, batch: ak.Array) -> dict[str, ak.Array | np.ndarray]:
        """The jets of the next batch (its events numbered after those of the earlier batches)."""
        jets = build_toptag_jets(batch, self.options, self.signal, first_event=self.events_seen)
        self.events_seen += len(batch)
        return jets
