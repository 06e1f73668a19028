"""Jet substructure observables of the top-tagging jets, computed columnar over all jets at once.

Every feature is a float64 array with one value per jet, computed from the jet's constituents (the jet itself is
the constituent sum). Angular distances are ΔR² = Δy² + Δφ² with the rapidity y (not the pseudorapidity), as fastjet
does for :meth:`PseudoJet.squared_distance`; Δφ is wrapped into [-π, π].

* ``mass``, ``pt``: invariant mass (sqrt of max(m², 0)) and transverse momentum of the constituent sum.
* ``sd_mass``: soft-drop groomed mass (Larkoski, Marzani, Soyez, Thaler, arXiv:1402.2657). The constituents are
  reclustered with Cambridge/Aachen (R = 1000, fastjet's ``max_allowable_R``, so every jet is one tree); going down
  the tree from the top, the splitting into branches a and b is kept when z = min(pT_a, pT_b) / (pT_a + pT_b) >
  zcut (ΔR_ab / R0)^β, otherwise the softer branch (smaller pT) is dropped and the harder one declustered. A jet
  groomed down to one constituent gets that constituent's mass. This is fastjet-contrib's ``SoftDrop`` with the
  ``scalar_z`` symmetry measure, ``larger_pt`` recursion and no mass-drop cut, i.e. exactly what fastjet's
  ``exclusive_jets_softdrop_grooming`` returns (checked to 1e-9 GeV on real jets); that call is however quadratic in
  the multiplicity inside the binding (~0.7 ms per 70-constituent jet), so the grooming is done here by declustering
  level by level: one C/A clustering of all still-ungroomed (sub)jets per level, split into its two exclusive
  jets (``exclusive_jets_constituent_index(2)``), the keep/drop decision vectorised over jets. C/A clustering is
  local (the constituents of a node of the C/A tree recluster into the same subtree), so reclustering the harder
  branch alone continues the original tree.
* ``tau1`` .. ``tau4``: N-subjettiness with the normalised measure, τ_N = Σ_i pT_i min_k ΔR(i, axis_k)^β /
  (Σ_i pT_i R0^β), R0 = ``jet_r``, with the N exclusive-kT axes (the ``exclusive_jets`` of a kT reclustering of
  the constituents, R = 1000, E-scheme), as fastjet-contrib's ``Nsubjettiness(N, KT_Axes(),
  NormalizedMeasure(β, R0))``. τ_N = 0 for a jet with at most N constituents (every constituent is its own axis).
* ``tau21``, ``tau32``, ``tau43``: τ2/τ1, τ3/τ2, τ4/τ3, 0 where the denominator is 0.
* ``n_constituents``: number of constituents.
* ``c2``, ``d2``: energy-correlation ratios C2 = e3 / e2² and D2 = e3 / e2³ (Larkoski, Salam, Thaler,
  arXiv:1305.0007; arXiv:1409.6298) with the normalised pT-weighted energy correlation functions
  e2 = Σ_{i<j} pT_i pT_j ΔR_ij^β / pT^2 and e3 = Σ_{i<j<k} pT_i pT_j pT_k (ΔR_ij ΔR_ik ΔR_jk)^β / pT^3 over all
  constituents, from fastjet's ``exclusive_jets_energy_correlator(njets=1, npoint=2 or 3, func="generalized")``
  (fastjet-contrib ``EnergyCorrelatorGeneralized``, identical to its ``func="c2"`` / ``"d2"`` results, computing
  e3 once for both); 0 for jets with fewer than 2 constituents.

Jets are processed in chunks (``chunk_size`` jets at a time) to bound the memory of the fastjet cluster sequences.
"""

from __future__ import annotations

import warnings
from typing import Any

import awkward as ak
import fastjet
import numpy as np
import vector

vector.register_awkward()

FEATURE_NAMES: list[str] = [
    "mass",
    "pt",
    "sd_mass",
    "tau1",
    "tau2",
    "tau3",
    "tau4",
    "tau21",
    "tau32",
    "tau43",
    "n_constituents",
    "c2",
    "d2",
]

N_SUBJETTINESS_MAX = 4
RECLUSTER_R = 1000.0  # fastjet's JetDefinition::max_allowable_R: one tree per jet, no merging with the beam
MAX_RAPIDITY = 1e5  # fastjet's MaxRap, the rapidity given to a particle along the beam
DEFAULT_CHUNK_SIZE = 10_000

FOUR_FIELDS = ("px", "py", "pz", "E")
Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def rapidity(px: np.ndarray, py: np.ndarray, pz: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Rapidity y = ½ ln((E + pz) / (E - pz)), computed as fastjet does (stable for massless, tachyon-safe).

    Args:
        px: x momentum.
        py: y momentum.
        pz: z momentum.
        energy: Energy.

    Returns:
        The rapidity; ±(1e5 + |pz|) for a particle along the beam (pT = 0 and E = |pz|).
    """
    pt2 = px * px + py * py
    transverse_mass2 = pt2 + np.maximum(energy * energy - pt2 - pz * pz, 0.0)
    e_plus_abs_pz = energy + np.abs(pz)
    along_beam = transverse_mass2 <= 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        half_log = 0.5 * np.log(np.where(along_beam, 1.0, transverse_mass2) / (e_plus_abs_pz * e_plus_abs_pz))
    y = np.where(pz > 0, -half_log, half_log)
    return np.where(along_beam, np.where(pz >= 0, 1.0, -1.0) * (MAX_RAPIDITY + np.abs(pz)), y)


def delta_r2(y1: np.ndarray, phi1: np.ndarray, y2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """ΔR² = Δy² + Δφ², Δφ wrapped into [-π, π]."""
    dphi = np.remainder(phi1 - phi2 + np.pi, 2.0 * np.pi) - np.pi
    return (y1 - y2) ** 2 + dphi**2


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Start offsets (length n + 1) of jagged lists with the given counts."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _per_jet_sum(values: np.ndarray, jet_of: np.ndarray, n_jets: int) -> np.ndarray:
    """Sum of per-constituent values over each jet."""
    return np.bincount(jet_of, weights=values, minlength=n_jets)


def _mass(four: np.ndarray) -> np.ndarray:
    """Invariant mass of (n, 4) px, py, pz, E rows (0 for spacelike rounding)."""
    m2 = four[:, 3] ** 2 - four[:, 0] ** 2 - four[:, 1] ** 2 - four[:, 2] ** 2
    return np.sqrt(np.maximum(m2, 0.0))


def _cluster(cols: Columns, counts: np.ndarray, algorithm: Any) -> Any:
    """Cluster each jet's constituents with fastjet's multi-event interface (one "event" per jet), R = 1000."""
    px, py, pz, energy = (ak.unflatten(col, counts) for col in cols)
    particles = ak.zip({"px": px, "py": py, "pz": pz, "E": energy}, with_name="Momentum4D")
    return fastjet.ClusterSequence(particles, fastjet.JetDefinition(algorithm, RECLUSTER_R))


def _softdrop(cols: Columns, counts: np.ndarray, ca_sequence: Any, zcut: float, beta: float, r0: float) -> np.ndarray:
    """Soft-drop groomed four-momenta, declustering all jets level by level (see the module docstring).

    Args:
        cols: Flat px, py, pz, E of the constituents.
        counts: Constituents per jet (every jet has at least 2).
        ca_sequence: The C/A cluster sequence of these jets (reused for the first level).
        zcut: Soft-drop zcut.
        beta: Soft-drop angular exponent.
        r0: Soft-drop angular normalisation.

    Returns:
        (n_jets, 4) groomed px, py, pz, E.
    """
    groomed = np.zeros((len(counts), 4))
    jet_ids = np.arange(len(counts))
    sequence = ca_sequence
    while jet_ids.size:
        if sequence is None:
            sequence = _cluster(cols, counts, fastjet.cambridge_algorithm)
        n_active = len(counts)
        branches = sequence.exclusive_jets_constituent_index(2)  # [jet][branch][constituent index in the jet]
        sequence = None
        branch_counts = ak.to_numpy(ak.num(branches, axis=2)).astype(np.int64)  # (n_active, 2)
        branch_of = np.repeat(np.arange(2 * n_active), branch_counts.ravel())
        jet_of = branch_of // 2
        index = ak.to_numpy(ak.flatten(branches, axis=None)).astype(np.int64) + _offsets(counts)[:-1][jet_of]
        four = np.stack([np.bincount(branch_of, weights=col[index], minlength=2 * n_active) for col in cols], axis=1)
        four = four.reshape(n_active, 2, 4)
        pt = np.hypot(four[..., 0], four[..., 1])
        y = rapidity(four[..., 0], four[..., 1], four[..., 2], four[..., 3])
        phi = np.arctan2(four[..., 1], four[..., 0])
        delta_r = np.sqrt(delta_r2(y[:, 0], phi[:, 0], y[:, 1], phi[:, 1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.min(pt, axis=1) / np.sum(pt, axis=1)
        kept = z > zcut * (delta_r / r0) ** beta
        groomed[jet_ids[kept]] = four[kept].sum(axis=1)
        harder = np.argmax(pt, axis=1)  # equal pT: the first branch
        follow = ~kept[jet_of] & (branch_of % 2 == harder[jet_of])
        cols = tuple(col[index[follow]] for col in cols)
        counts = branch_counts[np.arange(n_active), harder][~kept]
        jet_ids = jet_ids[~kept]
        single = counts == 1
        if single.any():
            first = _offsets(counts)[:-1][single]
            groomed[jet_ids[single]] = np.stack([col[first] for col in cols], axis=1)
            keep = np.repeat(~single, counts)
            cols = tuple(col[keep] for col in cols)
            counts, jet_ids = counts[~single], jet_ids[~single]
    return groomed


def _nsubjettiness(
    kt_sequence: Any, pt: np.ndarray, y: np.ndarray, phi: np.ndarray, counts: np.ndarray, beta: float, r0: float
) -> np.ndarray:
    """τ_1 .. τ_4 with exclusive-kT axes and the normalised measure.

    Args:
        kt_sequence: The kT cluster sequence of these jets.
        pt: Flat constituent pT.
        y: Flat constituent rapidity.
        phi: Flat constituent azimuth.
        counts: Constituents per jet.
        beta: Angular exponent.
        r0: Characteristic radius of the normalisation.

    Returns:
        (n_jets, 4) τ_N (0 for jets with at most N constituents).
    """
    n_jets = len(counts)
    jet_of = np.repeat(np.arange(n_jets), counts)
    norm = _per_jet_sum(pt, jet_of, n_jets) * r0**beta
    taus = np.zeros((n_jets, N_SUBJETTINESS_MAX))
    with warnings.catch_warnings():
        # fastjet warns for every exclusive clustering because its check compares a JetDefinition to an enum
        warnings.filterwarnings("ignore", message="dcut and exclusive jets")
        axes_up_to = [kt_sequence.exclusive_jets_up_to(n) for n in range(1, N_SUBJETTINESS_MAX + 1)]
    for n, axes in enumerate(axes_up_to, start=1):
        enough = counts > n
        if not enough.any():
            continue
        axes = axes[enough]
        ax_px, ax_py, ax_pz, ax_e = (ak.to_numpy(ak.flatten(axes[f], axis=1)).reshape(-1, n) for f in FOUR_FIELDS)
        ax_y, ax_phi = rapidity(ax_px, ax_py, ax_pz, ax_e), np.arctan2(ax_py, ax_px)
        selected = enough[jet_of]
        row = (np.cumsum(enough) - 1)[jet_of[selected]]
        min_dr2 = np.full(row.shape, np.inf)
        for k in range(n):
            np.minimum(min_dr2, delta_r2(y[selected], phi[selected], ax_y[row, k], ax_phi[row, k]), out=min_dr2)
        distance = np.sqrt(min_dr2) if beta == 1.0 else min_dr2 ** (0.5 * beta)
        numerator = _per_jet_sum(pt[selected] * distance, jet_of[selected], n_jets)
        with np.errstate(divide="ignore", invalid="ignore"):
            taus[:, n - 1] = np.where(enough & (norm > 0), numerator / norm, 0.0)
    return taus


def _energy_correlation_ratios(ca_sequence: Any, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """C2 = e3 / e2² and D2 = e3 / e2³ from fastjet's normalised generalised ECFs (0 where e2 = 0)."""
    e2, e3 = (
        np.asarray(
            ca_sequence.exclusive_jets_energy_correlator(
                njets=1, beta=beta, npoint=npoint, func="generalized", normalized=True
            )
        )
        for npoint in (2, 3)
    )
    valid = np.isfinite(e2) & np.isfinite(e3) & (e2 > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        c2 = np.where(valid, e3 / e2**2, 0.0)
        d2 = np.where(valid, e3 / e2**3, 0.0)
    return c2, d2


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise numerator / denominator, 0 where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), 0.0)


def _chunk_features(
    cols: Columns, counts: np.ndarray, *, jet_r: float, beta: float, softdrop_zcut: float, softdrop_beta: float
) -> dict[str, np.ndarray]:
    """All features of one chunk of jets (flat constituent columns and per-jet counts)."""
    px, py, pz, energy = cols
    n_jets = len(counts)
    jet_of = np.repeat(np.arange(n_jets), counts)
    jet_four = np.stack([_per_jet_sum(col, jet_of, n_jets) for col in cols], axis=1)
    pt = np.hypot(px, py)
    y = rapidity(px, py, pz, energy)
    phi = np.arctan2(py, px)

    features = {name: np.zeros(n_jets) for name in FEATURE_NAMES}
    features["mass"] = _mass(jet_four)
    features["pt"] = np.hypot(jet_four[:, 0], jet_four[:, 1])
    features["n_constituents"] = counts.astype(np.float64)

    # one constituent: groomed = the constituent, every τ_N and ECF ratio 0; fastjet runs on jets with >= 2
    sd_four = np.where((counts == 1)[:, None], jet_four, 0.0)
    multi = counts >= 2
    if multi.any():
        keep = multi[jet_of]
        multi_cols: Columns = tuple(col[keep] for col in cols)  # type: ignore[assignment]
        multi_counts = counts[multi]
        ca_sequence = _cluster(multi_cols, multi_counts, fastjet.cambridge_algorithm)
        features["c2"][multi], features["d2"][multi] = _energy_correlation_ratios(ca_sequence, beta)
        sd_four[multi] = _softdrop(multi_cols, multi_counts, ca_sequence, softdrop_zcut, softdrop_beta, jet_r)
        kt_sequence = _cluster(multi_cols, multi_counts, fastjet.kt_algorithm)
        taus = _nsubjettiness(kt_sequence, pt[keep], y[keep], phi[keep], multi_counts, beta, jet_r)
        for n in range(1, N_SUBJETTINESS_MAX + 1):
            features[f"tau{n}"][multi] = taus[:, n - 1]
    features["sd_mass"] = _mass(sd_four)
    features["tau21"] = _ratio(features["tau2"], features["tau1"])
    features["tau32"] = _ratio(features["tau3"], features["tau2"])
    features["tau43"] = _ratio(features["tau4"], features["tau3"])
    return features


def _flat(array: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Flat float64 values and per-jet counts of a jagged (jets x constituents) array."""
    array = ak.Array(array) if not isinstance(array, ak.Array) else array
    if array.ndim != 2:
        raise ValueError(f"{name} must be jagged with one list of constituents per jet, got ndim={array.ndim}")
    counts = ak.to_numpy(ak.num(array, axis=1)).astype(np.int64)
    values = np.asarray(ak.to_numpy(ak.flatten(array, axis=1)), dtype=np.float64)
    return values, counts


def substructure_features(
    E: Any,
    px: Any,
    py: Any,
    pz: Any,
    *,
    jet_r: float = 0.8,
    beta: float = 1.0,
    softdrop_zcut: float = 0.1,
    softdrop_beta: float = 0.0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, np.ndarray]:
    """Substructure features of every jet from its constituents (definitions in the module docstring).

    Args:
        E: Constituent energies, jagged (one list per jet), e.g. the ``part_E`` branch.
        px: Constituent x momenta.
        py: Constituent y momenta.
        pz: Constituent z momenta.
        jet_r: Jet radius: R0 of the N-subjettiness normalisation and of the soft-drop condition.
        beta: Angular exponent of N-subjettiness and of the energy correlation functions.
        softdrop_zcut: Soft-drop zcut.
        softdrop_beta: Soft-drop angular exponent (0: modified mass drop).
        chunk_size: Jets per fastjet call (bounds the memory of the cluster sequences).

    Returns:
        Feature name -> float64 array with one value per jet, for every name of :data:`FEATURE_NAMES`.

    Raises:
        ValueError: When the four arrays do not have the same constituents per jet, or on a bad parameter.
    """
    if jet_r <= 0 or chunk_size < 1:
        raise ValueError(f"jet_r must be > 0 and chunk_size >= 1, got jet_r={jet_r}, chunk_size={chunk_size}")
    flat = [_flat(array, name) for array, name in ((px, "px"), (py, "py"), (pz, "pz"), (E, "E"))]
    counts = flat[0][1]
    for (_, other), name in zip(flat[1:], ("py", "pz", "E"), strict=True):
        if not np.array_equal(other, counts):
            raise ValueError(f"px and {name} do not have the same number of constituents in every jet")
    cols: Columns = tuple(values for values, _ in flat)  # type: ignore[assignment]
    offsets = _offsets(counts)
    chunks = []
    for start in range(0, len(counts), chunk_size):
        stop = min(start + chunk_size, len(counts))
        lo, hi = offsets[start], offsets[stop]
        chunk_cols: Columns = tuple(col[lo:hi] for col in cols)  # type: ignore[assignment]
        chunks.append(
            _chunk_features(
                chunk_cols,
                counts[start:stop],
                jet_r=jet_r,
                beta=beta,
                softdrop_zcut=softdrop_zcut,
                softdrop_beta=softdrop_beta,
            )
        )
    if not chunks:
        return {name: np.zeros(0) for name in FEATURE_NAMES}
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in FEATURE_NAMES}
