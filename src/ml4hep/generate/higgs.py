"""Event content of the H->tautau samples, built columnar from Pythia8 event records.

Per event (all momenta in GeV):

* ``lep_*``: prompt electrons and muons (from tau, W or Z decays) in acceptance, pT-smeared; ``lep_from_tau`` flags
  those from a tau decay.
* ``tau_*``: hadronic taus: the visible 4-vector (all tau decay products except neutrinos), pT-smeared, with charge
  and number of charged prongs.
* ``jet_*``: anti-kT jets of all other visible particles (the accepted leptons' and hadronic taus' particles are
  removed before clustering), pT-smeared.
* ``met``, ``met_phi``: the true missing transverse momentum (neutrinos plus particles beyond the visible |eta|),
  minus the smearing of the objects, plus a Gaussian soft term of width ``met_soft_resolution * sqrt(sumET)`` per
  axis; ``met_true``, ``met_true_phi`` before any smearing; ``met_sumet`` the scalar pT sum of visible particles.
* ``truth_ditau_mass``: invariant mass of the tau pair from the Z/gamma*/H decay (NaN where there is none, e.g. ttbar).
* ``weight``: sigma x luminosity / N, added by :mod:`ml4hep.generate.shard` once the cross section is known.

Smearing (Gaussian, truncated at zero): leptons sigma/pT = ``lepton_pt_rel``; hadronic taus ``tau_pt_rel``; jets
sigma/pT = ``jet_stochastic``/sqrt(pT) (+) ``jet_constant``. The 4-vectors are scaled, directions are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import awkward as ak
import fastjet
import numpy as np
import vector

from ml4hep.generate.record import (
    CHARGED_LEPTONS,
    DITAU_PARENTS,
    NEUTRINOS,
    TAU,
    W_BOSON,
    FlatRecord,
    find_ancestor,
    jagged,
    pt_eta_phi_m,
    sum_by_group,
)

vector.register_awkward()

HIGGS_JET_MIN_PT_CLUSTER = 5.0  # GeV; below the analysis threshold so smearing can move jets across it


def _smear_factor(rng: np.random.Generator, relative_sigma: np.ndarray | float, size: int) -> np.ndarray:
    """Multiplicative Gaussian smearing factors, truncated at zero."""
    return np.maximum(1.0 + rng.normal(size=size) * relative_sigma, 0.0)


def _sort_by_pt(objects: ak.Array) -> ak.Array:
    return objects[ak.argsort(objects.pt, axis=1, ascending=False)]


def build_higgs_events(
    batch: ak.Array,
    objects: Mapping[str, Any],
    smearing: Mapping[str, Any],
    rng: np.random.Generator,
    charge_of: Callable[[np.ndarray], np.ndarray],
) -> dict[str, ak.Array | np.ndarray]:
    """Turn a ``nextBatch`` result into the per-event branches of the Higgs samples.

    Args:
        batch: Events from ``Pythia.nextBatch``.
        objects: The ``samples.higgs.objects`` config section.
        smearing: The ``samples.higgs.smearing`` config section.
        rng: Random generator for the smearing (seeded from the shard seed).
        charge_of: Electric charge (units of e) for an array of PDG ids.

    Returns:
        Branch name -> array with one entry per event (jagged for object collections).
    """
    rec = FlatRecord.from_batch(batch.prt)
    n_events = rec.n_events
    abs_pid = rec.abs_pid
    final = np.flatnonzero(rec.is_final)
    final_pid = abs_pid[final]
    pt, eta, phi, _ = pt_eta_phi_m(rec.px, rec.py, rec.pz, rec.e)
    visible = ~np.isin(final_pid, NEUTRINOS) & (np.abs(eta[final]) < objects["max_eta_visible"])

    # Taus: the decaying copy of each tau, and for every final particle the tau it comes from.
    tau_index = np.flatnonzero((abs_pid == TAU) & rec.is_last_copy())
    tau_number = np.full(len(rec.pid), -1, dtype=np.int64)
    tau_number[tau_index] = np.arange(len(tau_index))
    ancestor = find_ancestor(rec, final, (TAU,))
    from_tau = np.where(ancestor >= 0, tau_number[np.maximum(ancestor, 0)], -1)
    is_lepton = np.isin(final_pid, CHARGED_LEPTONS)
    final_charge = charge_of(rec.pid[final])
    charged_visible = visible & (final_charge != 0) & ~np.isin(final_pid, NEUTRINOS)
    n_tau = len(tau_index)
    not_nu = ~np.isin(final_pid, NEUTRINOS)
    (n_leptonic,) = sum_by_group(from_tau, n_tau, is_lepton.astype(float))
    (n_visible,) = sum_by_group(from_tau, n_tau, not_nu.astype(float))
    (n_prong,) = sum_by_group(from_tau, n_tau, (charged_visible & ~is_lepton).astype(float))
    vis_px, vis_py, vis_pz, vis_e = sum_by_group(
        np.where(not_nu, from_tau, -1), n_tau, rec.px[final], rec.py[final], rec.pz[final], rec.e[final]
    )
    tau_pt, tau_eta, tau_phi, tau_m = pt_eta_phi_m(vis_px, vis_py, vis_pz, vis_e)
    smear_tau = _smear_factor(rng, smearing["tau_pt_rel"], n_tau)
    hadronic = (n_leptonic == 0) & (n_visible > 0)
    accepted_tau = hadronic & (tau_pt * smear_tau > objects["tau_min_pt"]) & (np.abs(tau_eta) < objects["tau_max_eta"])

    # Prompt leptons: an e or mu whose ancestry reaches a tau, W or Z before any hadron.
    lepton_final = final[is_lepton]
    lepton_parent = find_ancestor(rec, lepton_final, (TAU, 23, W_BOSON), stop_at_hadrons=True)
    prompt = lepton_parent >= 0
    lepton_final, lepton_parent = lepton_final[prompt], lepton_parent[prompt]
    smear_lep = _smear_factor(rng, smearing["lepton_pt_rel"], len(lepton_final))
    accepted_lep = (pt[lepton_final] * smear_lep > objects["lepton_min_pt"]) & (
        np.abs(eta[lepton_final]) < objects["lepton_max_eta"]
    )

    # Jet inputs: visible particles minus those of accepted hadronic taus and accepted leptons.
    removed = np.zeros(len(rec.pid), dtype=bool)
    removed[lepton_final[accepted_lep]] = True
    accepted_tau_number = np.flatnonzero(accepted_tau)
    in_accepted_tau = np.isin(from_tau, accepted_tau_number)
    removed[final[in_accepted_tau & not_nu]] = True
    jet_input = final[visible & ~removed[final]]
    inputs = jagged(
        {"px": rec.px[jet_input], "py": rec.py[jet_input], "pz": rec.pz[jet_input], "E": rec.e[jet_input]},
        rec.event[jet_input],
        n_events,
    )
    jet_definition = fastjet.JetDefinition(fastjet.antikt_algorithm, float(objects["jet_r"]))
    clustered = fastjet.ClusterSequence(inputs, jet_definition).inclusive_jets(min_pt=HIGGS_JET_MIN_PT_CLUSTER)
    jets = ak.zip(
        {"px": clustered.px, "py": clustered.py, "pz": clustered.pz, "E": clustered.E}, with_name="Momentum4D"
    )
    flat_jets = ak.flatten(jets)
    jet_pt_true = ak.to_numpy(flat_jets.pt)
    jet_sigma = np.hypot(smearing["jet_stochastic"] / np.sqrt(np.maximum(jet_pt_true, 1e-3)), smearing["jet_constant"])
    smear_jet = _smear_factor(rng, jet_sigma, len(jet_pt_true))
    jet_counts = ak.to_numpy(ak.num(jets))
    jet_event = np.repeat(np.arange(n_events), jet_counts)
    jet_px_true = ak.to_numpy(flat_jets.px)
    jet_py_true = ak.to_numpy(flat_jets.py)
    j_pt, j_eta, j_phi, j_m = pt_eta_phi_m(
        jet_px_true * smear_jet,
        jet_py_true * smear_jet,
        ak.to_numpy(flat_jets.pz) * smear_jet,
        ak.to_numpy(flat_jets.E) * smear_jet,
    )
    accepted_jet = (j_pt > objects["jet_min_pt"]) & (np.abs(j_eta) < objects["jet_max_eta"])

    # MET: truth from the visible sum, then the objects' smearing propagated and a soft term.
    vis_final = final[visible]
    sum_px = np.bincount(rec.event[vis_final], weights=rec.px[vis_final], minlength=n_events)
    sum_py = np.bincount(rec.event[vis_final], weights=rec.py[vis_final], minlength=n_events)
    sum_et = np.bincount(rec.event[vis_final], weights=pt[vis_final], minlength=n_events)
    met_true_x, met_true_y = -sum_px, -sum_py
    delta_x = np.zeros(n_events)
    delta_y = np.zeros(n_events)
    delta_et = np.zeros(n_events)
    tau_event = rec.event[tau_index]
    lep_event = rec.event[lepton_final]
    for event_of, px, py, factor, keep in (
        (tau_event, vis_px, vis_py, smear_tau, accepted_tau),
        (lep_event, rec.px[lepton_final], rec.py[lepton_final], smear_lep, accepted_lep),
        (jet_event, jet_px_true, jet_py_true, smear_jet, accepted_jet),
    ):
        delta_x += np.bincount(event_of[keep], weights=(px * (factor - 1.0))[keep], minlength=n_events)
        delta_y += np.bincount(event_of[keep], weights=(py * (factor - 1.0))[keep], minlength=n_events)
        delta_et += np.bincount(event_of[keep], weights=(np.hypot(px, py) * (factor - 1.0))[keep], minlength=n_events)
    met_sumet = np.maximum(sum_et + delta_et, 0.0)
    soft_sigma = smearing["met_soft_resolution"] * np.sqrt(met_sumet)
    met_x = met_true_x - delta_x + rng.normal(size=n_events) * soft_sigma
    met_y = met_true_y - delta_y + rng.normal(size=n_events) * soft_sigma

    # Truth di-tau mass: the two taus straight from the Z/gamma*/H decay.
    first_tau = (abs_pid == TAU) & np.isin(abs_pid[rec.mother1], DITAU_PARENTS)
    first_tau_index = np.flatnonzero(first_tau)
    pair_px, pair_py, pair_pz, pair_e, pair_n = sum_by_group(
        rec.event[first_tau_index],
        n_events,
        rec.px[first_tau_index],
        rec.py[first_tau_index],
        rec.pz[first_tau_index],
        rec.e[first_tau_index],
        np.ones(len(first_tau_index)),
    )
    _, _, _, pair_mass = pt_eta_phi_m(pair_px, pair_py, pair_pz, pair_e)
    truth_mass = np.where(pair_n == 2, pair_mass, np.nan)

    lep_pid = rec.pid[lepton_final]
    leptons = jagged(
        {
            "pt": pt[lepton_final] * smear_lep,
            "eta": eta[lepton_final],
            "phi": phi[lepton_final],
            "charge": -np.sign(lep_pid).astype(np.int32),
            "pdgid": np.abs(lep_pid).astype(np.int32),
            "from_tau": rec.abs_pid[lepton_parent] == TAU,
        },
        lep_event,
        n_events,
    )[jagged({"keep": accepted_lep}, lep_event, n_events).keep]
    taus = jagged(
        {
            "pt": tau_pt * smear_tau,
            "eta": tau_eta,
            "phi": tau_phi,
            "m": tau_m * smear_tau,
            "charge": -np.sign(rec.pid[tau_index]).astype(np.int32),
            "nprong": n_prong.astype(np.int32),
        },
        tau_event,
        n_events,
    )[jagged({"keep": accepted_tau}, tau_event, n_events).keep]
    jets_out = jagged({"pt": j_pt, "eta": j_eta, "phi": j_phi, "m": j_m}, jet_event, n_events)[
        jagged({"keep": accepted_jet}, jet_event, n_events).keep
    ]
    return {
        "lep": _sort_by_pt(leptons),
        "tau": _sort_by_pt(taus),
        "jet": _sort_by_pt(jets_out),
        "met": np.hypot(met_x, met_y),
        "met_phi": np.arctan2(met_y, met_x),
        "met_sumet": met_sumet,
        "met_true": np.hypot(met_true_x, met_true_y),
        "met_true_phi": np.arctan2(met_true_y, met_true_x),
        "truth_ditau_mass": truth_mass,
    }
