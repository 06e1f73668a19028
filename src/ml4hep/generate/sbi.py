"""The simulator of the ``sbi`` task: e+e- -> Z -> hadrons with Pythia 8's final-state-shower scale weights.

The parameter θ is the factor on the final-state shower's renormalisation scale, μ_R = θ p_T (Pythia's
``fsr:muRfac``). A *nominal* sample is showered at θ0 = 1 with ``UncertaintyBands:doVariations`` on, which gives
for every event the weights w_v = p(x, z | θ_v) / p(x, z | θ0) at the variation points θ_v: the joint likelihood
ratio of the event's whole shower history z, the "gold" of Brehmer et al. (arXiv:1805.12244). *Direct* samples are
showered at one θ1 (``TimeShower:renormMultFac`` = θ1², since that setting multiplies μ_R², as the Pythia manual says
of both) and check the weights. ``UncertaintyBands:muSoftCorr`` is off so that a weight is exactly the ratio of
the two showers (the soft compensation term would make the weights a different model from the direct samples), and
the variations reach every emission (``FSRpTmin2Fac = 0``) with a larger oversampling (``overSampleFSR = 10``).

Every sample of the task shares one shower cutoff, ``TimeShower:pTmin`` = ``shower_pt_min`` (1 GeV by default,
above Pythia's 0.5): near the default cutoff the one-loop α_s of the shower is close to its Landau pole (about 1.6
at 0.5 GeV, several at 0.35 GeV), so that (1) Pythia raises the cutoff of a direct shower with a small
``renormMultFac`` on its own (to 0.506 GeV at θ = 0.707, 0.715 GeV at θ = 0.5: emissions the nominal sample has and
no weight can remove) and (2) the variation's α_s(θ² p_T²) − α_s(p_T²) exceeds the limit ``deltaAlphaSmax`` that
Pythia caps the weights at (0.2 by default; 1, the largest allowed, here). Both made the reweighted nominal sample a
different model from the direct samples (χ²/ndf 1.5 on the default config); with the common 1 GeV cutoff and the
cap at 1 they agree within their statistics at θ = 0.5, 0.707 and 1.414.

The observables are event shapes computed columnar from the visible final state: the Durham (ee-kt) two-jet
y23, thrust about the two-jet axis, the two hemisphere (jet) masses over the visible energy and the particle
multiplicity.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import fastjet
import numpy as np

from ml4hep.generate.pythia import make_pythia
from ml4hep.generate.record import NEUTRINOS, FlatRecord, jagged
from ml4hep.io import EVENTS_TREE, RUN_TREE, write_root
from ml4hep.sbi.observables import WEIGHTS_BRANCH

log = logging.getLogger(__name__)

LOG_Y23_FLOOR = -12.0
"""ln y23 of an event with fewer than three particles (no third jet can be resolved)."""


def process_settings(energy_gev: float, shower_pt_min: float = 1.0) -> tuple[str, ...]:
    """Pythia settings of e+e- -> γ*/Z -> light quarks (u d s c b) at ``energy_gev``, no ISR photons.

    ``shower_pt_min`` is the final-state shower's cutoff (GeV), the same for every sample of the task.
    """
    return (
        f"TimeShower:pTmin = {float(shower_pt_min)}",
        "Beams:idA = 11",
        "Beams:idB = -11",
        f"Beams:eCM = {float(energy_gev)}",
        "PDF:lepton = off",
        "WeakSingleBoson:ffbar2gmZ = on",
        "23:onMode = off",
        "23:onIfAny = 1 2 3 4 5",
    )


def variation_settings(thetas: Sequence[float]) -> tuple[str, ...]:
    """Settings that make Pythia compute the FSR μ_R weights at ``thetas`` (named ``theta0``, ``theta1``, ...)."""
    groups = ", ".join(f"theta{i} fsr:muRfac={float(t)}" for i, t in enumerate(thetas))
    return (
        "UncertaintyBands:doVariations = on",
        "UncertaintyBands:muSoftCorr = off",
        # Pythia leaves emissions below 2 pTmin (pT² < FSRpTmin2Fac pTmin²) unvaried by default, while the direct
        # renormMultFac changes every emission: with the cut the reweighted multiplicity moved visibly less than the
        # direct samples' (0.5 particles of 6 at θ = 0.707, 10 000 events).
        "UncertaintyBands:FSRpTmin2Fac = 0",
        # The veto algorithm's weights are exact only where the oversampled kernel exceeds the varied one:
        # α_s(θ² p_T²) / α_s(p_T²) reaches 3 (the default factor) near the cutoff at θ = 0.5.
        "UncertaintyBands:overSampleFSR = 10",
        # Pythia caps |α_s(θ² p_T²) − α_s(p_T²)| of a variation here (0.2 by default), the direct shower does not
        "UncertaintyBands:deltaAlphaSmax = 1.0",
        f"UncertaintyBands:List = {{{groups}}}",
    )


def direct_settings(theta: float) -> tuple[str, ...]:
    """Settings that shower at θ directly: ``renormMultFac`` multiplies μ_R² = p_T², hence θ²."""
    return (f"TimeShower:renormMultFac = {float(theta) ** 2}",)


def event_shapes(batch: ak.Array) -> dict[str, np.ndarray]:
    """The observables of every event of a ``nextBatch`` result.

    Args:
        batch: Events from ``Pythia.nextBatch``.

    Returns:
        Observable name (:data:`OBSERVABLES`) -> one value per event.
    """
    rec = FlatRecord.from_batch(batch.prt)
    final = np.flatnonzero(rec.is_final & ~np.isin(rec.abs_pid, NEUTRINOS))
    parts = jagged(
        {"px": rec.px[final], "py": rec.py[final], "pz": rec.pz[final], "E": rec.e[final]},
        rec.event[final],
        rec.n_events,
    )
    multiplicity = ak.to_numpy(ak.num(parts.px)).astype(np.float64)
    e_vis = ak.to_numpy(ak.sum(parts.E, axis=1))
    # R is ignored by the Durham algorithm (the wrapper insists on one, so the full signature with 0 parameters)
    definition = fastjet.JetDefinition(fastjet.ee_kt_algorithm, 1.0, fastjet.E_scheme, fastjet.Best, 0)
    with warnings.catch_warnings():
        # fastjet warns about exclusive jets of any algorithm but kt/C-A; Durham's are the textbook ones
        warnings.filterwarnings("ignore", message="dcut and exclusive jets")
        sequence = fastjet.ClusterSequence(parts, definition)
        jets = sequence.exclusive_jets(2)
        y23 = ak.to_numpy(sequence.exclusive_ymerge(2))
    log_y23 = np.where((multiplicity >= 3) & (y23 > 0), np.log(np.clip(y23, 1e-300, None)), LOG_Y23_FLOOR)
    jet = {k: ak.to_numpy(jets[k]) for k in ("px", "py", "pz", "E")}
    mass2 = jet["E"] ** 2 - jet["px"] ** 2 - jet["py"] ** 2 - jet["pz"] ** 2
    rho = np.clip(mass2, 0.0, None) / e_vis[:, None] ** 2
    # The two-jet axis (jet 1 minus jet 2: back to back in the rest frame) stands in for the thrust axis.
    axis = np.stack([jet[k][:, 0] - jet[k][:, 1] for k in ("px", "py", "pz")], axis=1)
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    projection = np.abs(parts.px * axis[:, 0] + parts.py * axis[:, 1] + parts.pz * axis[:, 2])
    momentum = np.sqrt(parts.px**2 + parts.py**2 + parts.pz**2)
    thrust = ak.to_numpy(ak.sum(projection, axis=1)) / ak.to_numpy(ak.sum(momentum, axis=1))
    return {
        "tau": 1.0 - thrust,
        "log_y23": log_y23,
        "rho_heavy": rho.max(axis=1),
        "rho_light": rho.min(axis=1),
        "multiplicity": multiplicity,
    }


def variation_weights(batch: ak.Array, n_variations: int) -> np.ndarray:
    """The weights of the variation points per event, (events, variations), from ``nextBatch``'s ``info.weights``.

    Pythia lists the nominal weight first, then each individual variation, then each named group (here a
    group is one variation, so the groups repeat the individual ones): the named groups are the last columns.
    """
    weights = ak.to_numpy(batch.info.weights)
    return np.asarray(weights[:, -n_variations:], dtype=np.float64) / weights[:, :1]


def generate_sbi_shard(
    output: str | Path,
    *,
    events: int,
    seed: int,
    energy_gev: float,
    thetas: Sequence[float],
    theta: float | None = None,
    batch_size: int = 500,
    shower_pt_min: float = 1.0,
) -> dict[str, Any]:
    """Generate one shard of the ``sbi`` simulator and write it as a ROOT file (TTrees ``events`` and ``run``).

    Args:
        output: ROOT file to write.
        events: Events to generate.
        seed: Pythia seed (from the config's master seed, :func:`ml4hep.seeds.derive_seed`).
        energy_gev: Centre-of-mass energy.
        thetas: Variation points θ_v of the weights (nominal shard only).
        theta: None for a nominal shard (θ0 = 1, with the weights), else the θ1 of a direct shard (no weights).
        batch_size: Events per ``nextBatch`` call (and per basket of the output).
        shower_pt_min: The final-state shower's cutoff (GeV), the same for the nominal and the direct samples.

    Returns:
        A JSON-ready summary (events, seed, seconds, θ).

    Example:
        >>> import tempfile, uproot
        >>> path = Path(tempfile.mkdtemp()) / "nominal.root"
        >>> _ = generate_sbi_shard(path, events=20, seed=1, energy_gev=91.2, thetas=[0.5, 2.0])
        >>> uproot.open(path)["events"]["shower_weights"].array(library="np").shape
        (20, 2)
    """
    start = time.perf_counter()
    nominal = theta is None
    process = process_settings(energy_gev, shower_pt_min)
    settings = process + (variation_settings(thetas) if nominal else direct_settings(theta))
    run = make_pythia(settings, seed)
    chunks: list[dict[str, np.ndarray]] = []
    for batch in run.batches(int(events), int(batch_size)):
        chunk = event_shapes(batch)
        if nominal:
            chunk[WEIGHTS_BRANCH] = variation_weights(batch, len(thetas))
        chunks.append(chunk)
    seconds = time.perf_counter() - start
    run_info = {
        "theta": np.asarray([thetas] if nominal else [[float(theta)]], dtype=np.float64),
        "nominal": np.array([int(nominal)], dtype=np.int32),
        "energy_gev": np.array([float(energy_gev)]),
        "events_generated": np.array([int(events)], dtype=np.int64),
        "events_tried": np.array([run.n_tried()], dtype=np.int64),
        "seed": np.array([int(seed)], dtype=np.int64),
        "seconds": np.array([seconds]),
    }
    write_root(output, {EVENTS_TREE: iter(chunks), RUN_TREE: run_info})
    log.info("%s: %d events (theta %s) in %.1f s", output, events, "nominal" if nominal else theta, seconds)
    return {"events": int(events), "seed": int(seed), "theta": theta, "seconds": seconds}
