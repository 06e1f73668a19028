"""Lep-had selection and the HiggsML feature set, computed columnar for generated samples and the HiggsML data.

The features are those of the ATLAS Higgs Machine Learning Challenge (C. Adam-Bourdarios et al., "Learning to
discover: the Higgs boson machine learning challenge", 2014, Appendix B), with the same names and the same
undefined value :data:`UNDEFINED` = -999.0, plus ``DER_mass_collinear``:

* ``PRI_tau_*``, ``PRI_lep_*``: the leading hadronic tau and the lepton (pT, eta, phi).
* ``PRI_met``, ``PRI_met_phi``, ``PRI_met_sumet``: missing transverse momentum and the total transverse energy.
* ``PRI_jet_num``: number of jets with pT > ``jet_pt_min`` (30 GeV as in HiggsML), capped at 3.
* ``PRI_jet_leading_*`` (undefined if ``PRI_jet_num`` = 0), ``PRI_jet_subleading_*`` (undefined if
  ``PRI_jet_num`` <= 1); ``PRI_jet_all_pt``: scalar pT sum of all jets above the threshold (0 without jets; the
  sum is not capped like ``PRI_jet_num``).
* ``DER_mass_transverse_met_lep``: sqrt(2 pT_lep MET (1 - cos(phi_lep - phi_met))) (massless lepton).
* ``DER_mass_vis``: invariant mass of the tau and the lepton.
* ``DER_pt_h``: modulus of the vector sum of the transverse momenta of the tau, the lepton and the MET.
* ``DER_deltaeta_jet_jet``, ``DER_mass_jet_jet``, ``DER_prodeta_jet_jet``: |eta1 - eta2|, invariant mass and
  eta1 * eta2 of the two leading jets (undefined if ``PRI_jet_num`` <= 1).
* ``DER_deltar_tau_lep``: sqrt(deta^2 + dphi^2) of the tau and the lepton, dphi wrapped into [-pi, pi].
* ``DER_pt_tot``: modulus of the vector sum of the transverse momenta of the tau, the lepton, the MET, the leading
  jet (if ``PRI_jet_num`` >= 1) and the subleading jet (if ``PRI_jet_num`` >= 2), no further jets.
* ``DER_sum_pt``: pT_tau + pT_lep + ``PRI_jet_all_pt``.
* ``DER_pt_ratio_lep_tau``: pT_lep / pT_tau.
* ``DER_met_phi_centrality``: (A + B) / sqrt(A^2 + B^2) with A = sin(phi_met - phi_lep) s, B = sin(phi_tau -
  phi_met) s, s = sign(sin(phi_tau - phi_lep)); sqrt(2) when the MET is on the bisector of the tau and the lepton,
  1 when it is collinear with one of them. Where s = 0 (tau and lepton exactly collinear or back to back in phi,
  A = B = 0) the lepton phi is shifted by 1e-4 rad, as in the HiggsML reference recomputation of the ``DER_*``
  features (D. Rousseau, V. Estrade), so the feature is always defined, as the document has it.
* ``DER_lep_eta_centrality``: exp(-4 / (eta1 - eta2)^2 (eta_lep - (eta1 + eta2) / 2)^2) for the two leading jets
  (undefined if ``PRI_jet_num`` <= 1; for eta1 = eta2 exactly, the limit: 1 if eta_lep = eta1, else 0).
* ``DER_mass_collinear`` (not in HiggsML): the collinear-approximation di-tau mass m_vis / sqrt(x_tau x_lep), each
  tau decaying along its visible products, which carry the momentum fractions x_tau, x_lep solved from the
  transverse plane MET = (1/x_tau - 1) pT_tau + (1/x_lep - 1) pT_lep; undefined where the solution is unphysical
  (x outside (0, 1], i.e. the MET is not inside the smaller angle between the tau and the lepton) or does not
  exist (tau and lepton collinear or back to back in phi).

``DER_mass_MMC`` (the Missing Mass Calculator estimate) is not provided: there is no MMC implementation here, and it
is left out of :data:`FEATURE_NAMES` so that generated samples and HiggsML data have the same classifier inputs.

Masses: the lepton is massless (as in HiggsML; the e/mu masses change no feature by a measurable amount). The
hadronic tau carries its visible mass ``tau_m`` and the jets their mass ``jet_m`` in ``DER_mass_vis`` and
``DER_mass_jet_jet`` of generated samples. The HiggsML ``PRI_*`` columns give no masses, so a recomputation from
them (:func:`features_from_higgsml` with ``rederive=True``) treats every object as massless.

One definition for both inputs: :func:`derived_features` computes every ``DER_*`` feature from per-event
``PRI_``-level arrays; :func:`higgsml_features` (generated samples) calls it, and :func:`features_from_higgsml`
(the converted HiggsML CSV) either keeps the file's ``DER_*`` columns and computes only ``DER_mass_collinear``
with the same :func:`collinear_mass`, from the file's ``DER_mass_vis`` and ``PRI_*`` columns, or recomputes all of
them with :func:`derived_features`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import awkward as ak
import numpy as np

from ml4hep.convert import HIGGSML_DER_COLUMNS, HIGGSML_PRI_COLUMNS
from ml4hep.errors import InputFileError

UNDEFINED = -999.0
"""Value of a feature that is meaningless for an event (HiggsML convention)."""

JET_NUM_CAP = 3
"""``PRI_jet_num`` counts at most this many jets, as in HiggsML."""

PRI_NAMES: tuple[str, ...] = HIGGSML_PRI_COLUMNS
# The HiggsML DER_ features without DER_mass_MMC (no MMC here), plus the collinear mass.
DER_NAMES: tuple[str, ...] = (*(name for name in HIGGSML_DER_COLUMNS if name != "DER_mass_MMC"), "DER_mass_collinear")
FEATURE_NAMES: list[str] = [*PRI_NAMES, *DER_NAMES]
"""The classifier inputs, in order: the HiggsML ``PRI_*`` and ``DER_*`` features (no ``DER_mass_MMC``) and
``DER_mass_collinear``."""

_CENTRALITY_PHI_SHIFT = 1e-4  # rad; lepton phi shift where the tau and the lepton are collinear in phi
_COLLINEAR_SIN_MIN = 1e-9  # |sin dphi(tau, lep)| at or below this counts as collinear/back to back

_SELECTION_FIELDS = ("lep_pt", "lep_charge", "tau_pt", "tau_charge")
_FEATURE_FIELDS = (
    "lep_pt",
    "lep_eta",
    "lep_phi",
    "tau_pt",
    "tau_eta",
    "tau_phi",
    "tau_m",
    "jet_pt",
    "jet_eta",
    "jet_phi",
    "jet_m",
    "met",
    "met_phi",
    "met_sumet",
)


class Kinematics(NamedTuple):
    """Per-event arrays of one object (one entry per event): transverse momentum, pseudorapidity, azimuth, mass."""

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    m: np.ndarray


def select_lephad(events: ak.Array) -> ak.Array:
    """Select lep-had events: exactly one lepton, at least one hadronic tau, lepton and leading tau of opposite charge.

    The rule follows HiggsML (exactly one lepton and one hadronic tau): events with a second prompt lepton are
    vetoed (they belong to the lep-lep channel or to backgrounds such as ttbar dilepton); events with several
    hadronic taus are kept and use the leading (highest pT) one, as :func:`higgsml_features` does. The object
    acceptance (pT, eta) is the one applied when the samples were generated; no further cut is made here.

    Args:
        events: Generated events (fields ``lep_*``, ``tau_*``, ... as read by :func:`ml4hep.io.read_tree`).

    Returns:
        The selected events, with all their fields.

    Raises:
        ValueError: ``events`` lacks one of the fields the selection needs.
    """
    _require_fields(events, _SELECTION_FIELDS)
    n_lep = ak.num(events.lep_pt, axis=1)
    n_tau = ak.num(events.tau_pt, axis=1)
    charge_product = ak.firsts(events.lep_charge, axis=1) * ak.firsts(events.tau_charge, axis=1)
    opposite = ak.fill_none(charge_product < 0, False)
    keep = ak.to_numpy((n_lep == 1) & (n_tau >= 1) & opposite).astype(bool)
    return events[keep]


def higgsml_features(events: ak.Array, *, jet_pt_min: float = 30.0) -> dict[str, np.ndarray]:
    """The HiggsML features (:data:`FEATURE_NAMES`) of selected lep-had events of a generated sample.

    Args:
        events: Events passed through :func:`select_lephad` (every event needs a lepton and a hadronic tau; the
            leading ones are used).
        jet_pt_min: Jets count (``PRI_jet_num``, the leading/subleading jets, ``PRI_jet_all_pt``) above this pT in
            GeV; 30 GeV in HiggsML.

    Returns:
        Feature name -> float64 array with one value per event, :data:`UNDEFINED` where the feature is undefined.

    Raises:
        ValueError: a field is missing, or an event has no lepton or no hadronic tau.
    """
    _require_fields(events, _FEATURE_FIELDS)
    lacking = ak.to_numpy((ak.num(events.lep_pt, axis=1) < 1) | (ak.num(events.tau_pt, axis=1) < 1))
    if lacking.any():
        raise ValueError(
            f"{int(lacking.sum())} event(s) have no lepton or no hadronic tau; apply select_lephad() first"
        )
    n_events = len(events)
    tau = Kinematics(*(_nth(events[f"tau_{v}"], 0) for v in ("pt", "eta", "phi", "m")))
    lep = Kinematics(*(_nth(events[f"lep_{v}"], 0) for v in ("pt", "eta", "phi")), np.zeros(n_events))

    above = events.jet_pt > jet_pt_min
    jets = ak.zip({v: events[f"jet_{v}"][above] for v in ("pt", "eta", "phi", "m")})
    jets = jets[ak.argsort(jets.pt, axis=1, ascending=False)]
    n_jets = ak.to_numpy(ak.num(jets.pt, axis=1)).astype(np.int64)
    jet_leading = Kinematics(*(_nth(jets[v], 0) for v in ("pt", "eta", "phi", "m")))
    jet_subleading = Kinematics(*(_nth(jets[v], 1) for v in ("pt", "eta", "phi", "m")))
    jet_all_pt = _float(ak.sum(jets.pt, axis=1))
    jet_num = np.minimum(n_jets, JET_NUM_CAP).astype(np.float64)
    met = _float(events.met)
    met_phi = _float(events.met_phi)

    has_leading = jet_num >= 1
    has_subleading = jet_num >= 2
    features: dict[str, np.ndarray] = {
        "PRI_tau_pt": tau.pt,
        "PRI_tau_eta": tau.eta,
        "PRI_tau_phi": tau.phi,
        "PRI_lep_pt": lep.pt,
        "PRI_lep_eta": lep.eta,
        "PRI_lep_phi": lep.phi,
        "PRI_met": met,
        "PRI_met_phi": met_phi,
        "PRI_met_sumet": _float(events.met_sumet),
        "PRI_jet_num": jet_num,
        "PRI_jet_leading_pt": np.where(has_leading, jet_leading.pt, UNDEFINED),
        "PRI_jet_leading_eta": np.where(has_leading, jet_leading.eta, UNDEFINED),
        "PRI_jet_leading_phi": np.where(has_leading, jet_leading.phi, UNDEFINED),
        "PRI_jet_subleading_pt": np.where(has_subleading, jet_subleading.pt, UNDEFINED),
        "PRI_jet_subleading_eta": np.where(has_subleading, jet_subleading.eta, UNDEFINED),
        "PRI_jet_subleading_phi": np.where(has_subleading, jet_subleading.phi, UNDEFINED),
        "PRI_jet_all_pt": jet_all_pt,
    }
    features.update(
        derived_features(
            tau=tau,
            lep=lep,
            met=met,
            met_phi=met_phi,
            jet_num=jet_num,
            jet_leading=jet_leading,
            jet_subleading=jet_subleading,
            jet_all_pt=jet_all_pt,
        )
    )
    return {name: np.asarray(features[name], dtype=np.float64) for name in FEATURE_NAMES}


def derived_features(
    *,
    tau: Kinematics,
    lep: Kinematics,
    met: np.ndarray,
    met_phi: np.ndarray,
    jet_num: np.ndarray,
    jet_leading: Kinematics,
    jet_subleading: Kinematics,
    jet_all_pt: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every ``DER_*`` feature of :data:`DER_NAMES` from ``PRI_``-level per-event arrays (the one definition).

    Args:
        tau: The hadronic tau.
        lep: The lepton.
        met: Missing transverse momentum (GeV).
        met_phi: Its azimuth.
        jet_num: Number of jets above threshold (``PRI_jet_num``; only >= 1 and >= 2 matter).
        jet_leading: Leading jet; any value (e.g. :data:`UNDEFINED`) where ``jet_num`` < 1.
        jet_subleading: Subleading jet; any value where ``jet_num`` < 2.
        jet_all_pt: Scalar pT sum of the jets above threshold (``PRI_jet_all_pt``).

    Returns:
        Feature name -> float64 array, :data:`UNDEFINED` where undefined.
    """
    tau = Kinematics(*(_float(x) for x in tau))
    lep = Kinematics(*(_float(x) for x in lep))
    met, met_phi, jet_num, jet_all_pt = (_float(x) for x in (met, met_phi, jet_num, jet_all_pt))
    has_leading = jet_num >= 1
    has_subleading = jet_num >= 2
    # Absent jets become zero vectors, so that placeholder values (-999) never enter a formula.
    jet1 = Kinematics(*(np.where(has_leading, _float(x), 0.0) for x in jet_leading))
    jet2 = Kinematics(*(np.where(has_subleading, _float(x), 0.0) for x in jet_subleading))

    tau_x, tau_y = tau.pt * np.cos(tau.phi), tau.pt * np.sin(tau.phi)
    lep_x, lep_y = lep.pt * np.cos(lep.phi), lep.pt * np.sin(lep.phi)
    met_x, met_y = met * np.cos(met_phi), met * np.sin(met_phi)
    jet1_x, jet1_y = jet1.pt * np.cos(jet1.phi), jet1.pt * np.sin(jet1.phi)
    jet2_x, jet2_y = jet2.pt * np.cos(jet2.phi), jet2.pt * np.sin(jet2.phi)

    mass_vis = _pair_mass(tau, lep)
    eta_mean = 0.5 * (jet1.eta + jet2.eta)
    eta_gap2 = (jet1.eta - jet2.eta) ** 2
    lep_offset2 = (lep.eta - eta_mean) ** 2
    exponent = np.divide(-4.0 * lep_offset2, eta_gap2, out=np.where(lep_offset2 > 0, -np.inf, 0.0), where=eta_gap2 > 0)
    return {
        "DER_mass_transverse_met_lep": np.sqrt(np.maximum(2.0 * lep.pt * met * (1.0 - np.cos(lep.phi - met_phi)), 0.0)),
        "DER_mass_vis": mass_vis,
        "DER_pt_h": np.hypot(tau_x + lep_x + met_x, tau_y + lep_y + met_y),
        "DER_deltaeta_jet_jet": np.where(has_subleading, np.abs(jet1.eta - jet2.eta), UNDEFINED),
        "DER_mass_jet_jet": np.where(has_subleading, _pair_mass(jet1, jet2), UNDEFINED),
        "DER_prodeta_jet_jet": np.where(has_subleading, jet1.eta * jet2.eta, UNDEFINED),
        "DER_deltar_tau_lep": np.hypot(tau.eta - lep.eta, _wrap_phi(tau.phi - lep.phi)),
        "DER_pt_tot": np.hypot(tau_x + lep_x + met_x + jet1_x + jet2_x, tau_y + lep_y + met_y + jet1_y + jet2_y),
        "DER_sum_pt": tau.pt + lep.pt + jet_all_pt,
        "DER_pt_ratio_lep_tau": np.divide(lep.pt, tau.pt, out=np.full_like(tau.pt, UNDEFINED), where=tau.pt > 0),
        "DER_met_phi_centrality": met_phi_centrality(met_phi, lep.phi, tau.phi),
        "DER_lep_eta_centrality": np.where(has_subleading, np.exp(exponent), UNDEFINED),
        "DER_mass_collinear": collinear_mass(mass_vis, tau.pt, tau.phi, lep.pt, lep.phi, met, met_phi),
    }


def met_phi_centrality(met_phi: np.ndarray, lep_phi: np.ndarray, tau_phi: np.ndarray) -> np.ndarray:
    """HiggsML ``DER_met_phi_centrality`` = (A + B) / sqrt(A^2 + B^2).

    A = sin(phi_met - phi_lep) s and B = sin(phi_tau - phi_met) s with s = sign(sin(phi_tau - phi_lep)). Where
    s = 0 (tau and lepton collinear or back to back in phi) the lepton phi is shifted by 1e-4 rad, as in the HiggsML
    reference recomputation, which gives the limit value (1 when the MET is also collinear).

    Args:
        met_phi: MET azimuth.
        lep_phi: Lepton azimuth.
        tau_phi: Tau azimuth.

    Returns:
        The centrality, in [-sqrt(2), sqrt(2)].
    """
    met_phi, lep_phi, tau_phi = (_float(x) for x in (met_phi, lep_phi, tau_phi))
    sign = np.sign(np.sin(tau_phi - lep_phi))
    lep_phi = np.where(sign == 0, lep_phi + _CENTRALITY_PHI_SHIFT, lep_phi)
    sign = np.sign(np.sin(tau_phi - lep_phi))
    a = np.sin(met_phi - lep_phi) * sign
    b = np.sin(tau_phi - met_phi) * sign
    norm = np.hypot(a, b)
    return np.divide(a + b, norm, out=np.full_like(norm, UNDEFINED), where=norm > 0)


def collinear_mass(
    mass_vis: np.ndarray,
    tau_pt: np.ndarray,
    tau_phi: np.ndarray,
    lep_pt: np.ndarray,
    lep_phi: np.ndarray,
    met: np.ndarray,
    met_phi: np.ndarray,
) -> np.ndarray:
    """Collinear-approximation di-tau mass m_vis / sqrt(x_tau x_lep) (``DER_mass_collinear``).

    The momentum fractions carried by the visible decay products solve, in the transverse plane,
    MET = (1/x_tau - 1) pT_tau + (1/x_lep - 1) pT_lep (two equations, two unknowns).

    Args:
        mass_vis: Visible (tau + lepton) mass; negative (:data:`UNDEFINED`) values give an undefined result.
        tau_pt: Tau pT.
        tau_phi: Tau azimuth.
        lep_pt: Lepton pT.
        lep_phi: Lepton azimuth.
        met: MET.
        met_phi: MET azimuth.

    Returns:
        The mass, :data:`UNDEFINED` where there is no solution (tau and lepton collinear or back to back in phi:
        |sin(phi_tau - phi_lep)| <= 1e-9, which absorbs rounding such as sin(pi) = 1.2e-16) or it is unphysical
        (x_tau or x_lep outside (0, 1]).
    """
    mass_vis, tau_pt, tau_phi, lep_pt, lep_phi, met, met_phi = (
        _float(x) for x in (mass_vis, tau_pt, tau_phi, lep_pt, lep_phi, met, met_phi)
    )
    tau_x, tau_y = tau_pt * np.cos(tau_phi), tau_pt * np.sin(tau_phi)
    lep_x, lep_y = lep_pt * np.cos(lep_phi), lep_pt * np.sin(lep_phi)
    met_x, met_y = met * np.cos(met_phi), met * np.sin(met_phi)
    det = tau_x * lep_y - tau_y * lep_x  # pT_tau pT_lep sin(phi_lep - phi_tau)
    solvable = np.abs(det) > _COLLINEAR_SIN_MIN * tau_pt * lep_pt
    safe_det = np.where(solvable, det, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        extra_tau = (met_x * lep_y - met_y * lep_x) / safe_det  # 1/x_tau - 1
        extra_lep = (tau_x * met_y - tau_y * met_x) / safe_det  # 1/x_lep - 1
        mass = mass_vis * np.sqrt(np.abs((1.0 + extra_tau) * (1.0 + extra_lep)))
    physical = solvable & (extra_tau >= 0) & (extra_lep >= 0) & (mass_vis >= 0) & np.isfinite(mass)
    return np.where(physical, mass, UNDEFINED)


def features_from_higgsml(events: ak.Array | Mapping[str, Any], *, rederive: bool = False) -> dict[str, np.ndarray]:
    """The :data:`FEATURE_NAMES` columns of HiggsML data (converted by :func:`ml4hep.convert.convert_higgsml_csv`).

    Args:
        events: Records or a mapping with the ``PRI_*`` and ``DER_*`` columns (-999.0 where undefined).
        rederive: Recompute every ``DER_*`` column from the ``PRI_*`` columns with :func:`derived_features`
            (massless objects, as the ``PRI_*`` columns have no masses) instead of keeping the file's values.

    Returns:
        Feature name -> float64 array. The ``PRI_*`` columns are taken as they are; the ``DER_*`` columns too unless
        ``rederive``; ``DER_mass_collinear`` comes from :func:`collinear_mass` applied to ``DER_mass_vis``,
        ``PRI_tau_*``, ``PRI_lep_*`` and ``PRI_met*``, the same function as for generated samples.

    Raises:
        ValueError: a needed column is missing.
    """
    available = set(events.fields) if isinstance(events, ak.Array) else set(events)
    needed = list(PRI_NAMES) if rederive else [name for name in FEATURE_NAMES if name != "DER_mass_collinear"]
    missing = [name for name in needed if name not in available]
    if missing:
        raise ValueError(f"HiggsML events lack column(s) {', '.join(missing)}")
    columns = {name: _float(events[name]) for name in needed}
    if rederive:
        zeros = np.zeros(len(columns["PRI_tau_pt"]))
        columns.update(
            derived_features(
                tau=Kinematics(columns["PRI_tau_pt"], columns["PRI_tau_eta"], columns["PRI_tau_phi"], zeros),
                lep=Kinematics(columns["PRI_lep_pt"], columns["PRI_lep_eta"], columns["PRI_lep_phi"], zeros),
                met=columns["PRI_met"],
                met_phi=columns["PRI_met_phi"],
                jet_num=columns["PRI_jet_num"],
                jet_leading=Kinematics(
                    columns["PRI_jet_leading_pt"],
                    columns["PRI_jet_leading_eta"],
                    columns["PRI_jet_leading_phi"],
                    zeros,
                ),
                jet_subleading=Kinematics(
                    columns["PRI_jet_subleading_pt"],
                    columns["PRI_jet_subleading_eta"],
                    columns["PRI_jet_subleading_phi"],
                    zeros,
                ),
                jet_all_pt=columns["PRI_jet_all_pt"],
            )
        )
    else:
        columns["DER_mass_collinear"] = collinear_mass(
            columns["DER_mass_vis"],
            columns["PRI_tau_pt"],
            columns["PRI_tau_phi"],
            columns["PRI_lep_pt"],
            columns["PRI_lep_phi"],
            columns["PRI_met"],
            columns["PRI_met_phi"],
        )
    return {name: columns[name] for name in FEATURE_NAMES}


def check_features(features: Mapping[str, np.ndarray], source: str) -> None:
    """Check that no feature holds NaN or an infinity (an undefined value must be :data:`UNDEFINED`).

    Args:
        features: Feature name -> array.
        source: File or sample name for the error message.

    Raises:
        InputFileError: naming each feature with non-finite values and how many.
    """
    bad: dict[str, int] = {}
    for name, values in features.items():
        count = int(np.count_nonzero(~np.isfinite(np.asarray(values, dtype=np.float64))))
        if count:
            bad[name] = count
    if bad:
        listed = ", ".join(f"{name} ({count} values)" for name, count in bad.items())
        raise InputFileError(
            source, f"NaN or infinite feature values in {listed}; undefined values must be {UNDEFINED}"
        )


def _require_fields(events: ak.Array, names: tuple[str, ...]) -> None:
    """Raise ValueError naming the fields of ``names`` that ``events`` lacks."""
    missing = [name for name in names if name not in events.fields]
    if missing:
        raise ValueError(f"events lack field(s) {', '.join(missing)}")


def _float(values: Any) -> np.ndarray:
    """A flat array (numpy or awkward) as a float64 numpy array."""
    if isinstance(values, ak.Array):
        values = ak.to_numpy(values)
    return np.asarray(values, dtype=np.float64)


def _nth(values: ak.Array, index: int) -> np.ndarray:
    """Entry ``index`` of each event's list, 0.0 where the list is shorter."""
    padded = ak.pad_none(values, index + 1, axis=1, clip=True)[:, index]
    return _float(ak.fill_none(padded, 0.0))


def _wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """An azimuthal difference wrapped into [-pi, pi)."""
    return np.remainder(dphi + np.pi, 2.0 * np.pi) - np.pi


def _pair_mass(first: Kinematics, second: Kinematics) -> np.ndarray:
    """Invariant mass of the sum of two objects, sqrt(max(m^2, 0))."""
    total = [a + b for a, b in zip(_cartesian(first), _cartesian(second), strict=True)]
    px, py, pz, energy = total
    return np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0))


def _cartesian(obj: Kinematics) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(px, py, pz, E) of an object."""
    pz = obj.pt * np.sinh(obj.eta)
    p2 = obj.pt**2 + pz**2
    return obj.pt * np.cos(obj.phi), obj.pt * np.sin(obj.phi), pz, np.sqrt(p2 + obj.m**2)
