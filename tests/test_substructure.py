"""Jet substructure features: hand-computed toy jets, edge cases, fastjet-contrib cross-checks, real top/QCD jets."""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np
import pytest

from ml4hep.io import read_tree
from ml4hep.toptag.substructure import FEATURE_NAMES, substructure_features

TOP_MASS = 172.5
R0 = 0.8


def massless(pt, y, phi) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """E, px, py, pz of massless particles."""
    pt, y, phi = (np.asarray(v, dtype=float) for v in (pt, y, phi))
    return pt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(y)


def jagged(jets: list[tuple[np.ndarray, ...]]) -> tuple[ak.Array, ...]:
    """(E, px, py, pz) jagged arrays from a list of per-jet (E, px, py, pz)."""
    return tuple(ak.Array([list(jet[c]) for jet in jets]) for c in range(4))


def features_of(jets: list[tuple[np.ndarray, ...]], **kwargs) -> dict[str, np.ndarray]:
    return substructure_features(*jagged(jets), **kwargs)


def y_phi(e, px, py, pz) -> tuple[float, float]:
    return 0.5 * np.log((e + pz) / (e - pz)), np.arctan2(py, px)


def delta_r(a: tuple[float, float], b: tuple[float, float]) -> float:
    dphi = (a[1] - b[1] + np.pi) % (2 * np.pi) - np.pi
    return float(np.hypot(a[0] - b[0], dphi))


def random_jets(n_jets: int, seed: int) -> list[tuple[np.ndarray, ...]]:
    """Toy jets: a few hard prongs with collinear splashes and soft wide-angle particles."""
    rng = np.random.default_rng(seed)
    jets = []
    for _ in range(n_jets):
        n = int(rng.integers(2, 40))
        pt = rng.exponential(20.0, n) + 0.5
        y = rng.normal(0.3, 0.25, n)
        phi = rng.normal(1.0, 0.25, n)
        jets.append(massless(pt, y, phi))
    return jets


def test_feature_names_and_output_types():
    out = features_of(random_jets(5, seed=1))
    assert list(out) == FEATURE_NAMES
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    for name in FEATURE_NAMES:
        assert out[name].dtype == np.float64 and out[name].shape == (5,)
        assert np.all(np.isfinite(out[name]))


def test_toy_jet_against_hand_computation():
    # two well-separated prongs A = (a1, a2) and B = (b1, b2); exclusive kT merges b1+b2 (d = 50^2 0.07^2),
    # then a1+a2 (d = 100^2 0.094^2), so the 2 kT axes are the prong sums and the 3 axes are a1, a2, b1+b2
    pt, y, phi = [200.0, 100.0, 150.0, 50.0], [0.0, 0.05, 0.6, 0.55], [0.0, 0.08, 0.5, 0.45]
    e, px, py, pz = massless(pt, y, phi)
    out = features_of([(e, px, py, pz)])
    parts = [(y[i], phi[i]) for i in range(4)]
    jet = y_phi(e.sum(), px.sum(), py.sum(), pz.sum())
    prong_a = y_phi(e[:2].sum(), px[:2].sum(), py[:2].sum(), pz[:2].sum())
    prong_b = y_phi(e[2:].sum(), px[2:].sum(), py[2:].sum(), pz[2:].sum())
    norm = sum(pt) * R0
    tau1 = sum(pt[i] * delta_r(parts[i], jet) for i in range(4)) / norm
    tau2 = (
        sum(pt[i] * delta_r(parts[i], prong_a) for i in (0, 1))
        + sum(pt[i] * delta_r(parts[i], prong_b) for i in (2, 3))
    ) / norm
    tau3 = sum(pt[i] * delta_r(parts[i], prong_b) for i in (2, 3)) / norm
    mass = np.sqrt(e.sum() ** 2 - px.sum() ** 2 - py.sum() ** 2 - pz.sum() ** 2)
    # energy correlation functions (beta = 1) over all pairs and triplets
    dr = np.array([[delta_r(parts[i], parts[j]) for j in range(4)] for i in range(4)])
    ecf1 = sum(pt)
    ecf2 = sum(pt[i] * pt[j] * dr[i, j] for i in range(4) for j in range(i + 1, 4))
    ecf3 = sum(
        pt[i] * pt[j] * pt[k] * dr[i, j] * dr[i, k] * dr[j, k]
        for i in range(4)
        for j in range(i + 1, 4)
        for k in range(j + 1, 4)
    )
    expected = {
        "tau1": tau1,
        "tau2": tau2,
        "tau3": tau3,
        "tau4": 0.0,
        "tau21": tau2 / tau1,
        "tau32": tau3 / tau2,
        "tau43": 0.0,
        "mass": mass,
        "pt": np.hypot(px.sum(), py.sum()),
        "n_constituents": 4.0,
        "sd_mass": mass,  # first C/A splitting A | B has z = 200 / 500 > 0.1
        "c2": ecf3 * ecf1 / ecf2**2,
        "d2": ecf3 * ecf1**3 / ecf2**3,
    }
    for name, value in expected.items():
        assert out[name][0] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert 0 < tau3 < tau2 < tau1


def test_tau_n_is_zero_with_at_most_n_constituents_and_ratios_stay_finite():
    jets = [massless([100.0] * n, np.linspace(0, 0.3, n), np.linspace(0, 0.2, n)) for n in (1, 2, 3, 4, 5)]
    jets.append(tuple(np.zeros(0) for _ in range(4)))  # an empty jet
    out = features_of(jets)
    for i, n in enumerate((1, 2, 3, 4, 5, 0)):
        for big_n in range(1, 5):
            tau = out[f"tau{big_n}"][i]
            assert (tau == 0.0) if big_n >= n else (tau > 0.0), (n, big_n, tau)
    for name in FEATURE_NAMES:
        assert np.all(np.isfinite(out[name])), name
    np.testing.assert_array_equal(out["n_constituents"], [1, 2, 3, 4, 5, 0])
    assert out["tau21"][0] == out["tau21"][1] == 0.0 and out["tau32"][2] == 0.0 and out["tau43"][3] == 0.0
    assert out["c2"][0] == out["d2"][0] == 0.0 and out["c2"][1] == 0.0  # e3 = 0 with two constituents
    assert out["c2"][2] > 0
    assert out["mass"][0] == pytest.approx(0.0, abs=1e-5) and out["sd_mass"][0] == pytest.approx(0.0, abs=1e-5)
    assert all(out[name][5] == 0.0 for name in FEATURE_NAMES)


def test_soft_drop_never_increases_the_mass_and_keeps_two_equal_prongs():
    out = features_of(random_jets(200, seed=2))
    assert np.all(out["sd_mass"] <= out["mass"] + 1e-9)
    assert np.any(out["sd_mass"] < out["mass"] - 1.0)  # grooming does remove something in some jets
    equal = massless([300.0, 300.0], [0.0, 0.1], [0.0, 0.05])
    assert features_of([equal])["sd_mass"][0] == pytest.approx(features_of([equal])["mass"][0], rel=1e-12)


def test_soft_drop_removes_a_soft_wide_angle_particle():
    hard = massless([300.0, 250.0], [0.0, 0.1], [0.0, 0.1])
    soft = massless([10.0], [0.6], [-0.5])  # z = 10 / 560 < 0.1, clustered last by C/A (farthest)
    jet = tuple(np.concatenate([h, s]) for h, s in zip(hard, soft, strict=True))
    out = features_of([jet, hard])
    assert out["sd_mass"][0] == pytest.approx(out["mass"][1], rel=1e-12)
    assert out["mass"][0] > out["mass"][1] + 5.0
    # with zcut = 0.01 the soft particle passes and nothing is groomed
    assert features_of([jet], softdrop_zcut=0.01)["sd_mass"][0] == pytest.approx(out["mass"][0], rel=1e-12)


def test_matches_fastjet_contrib_softdrop_nsubjettiness_and_energy_correlators():
    jets = random_jets(60, seed=3)
    e, px, py, pz = jagged(jets)
    out = substructure_features(e, px, py, pz, softdrop_beta=1.0)
    particles = ak.zip({"px": px, "py": py, "pz": pz, "E": e}, with_name="Momentum4D")
    ca = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.cambridge_algorithm, 1000.0))
    groomed = ca.exclusive_jets_softdrop_grooming(njets=1, beta=1.0, symmetry_cut=0.1, R0=R0)
    np.testing.assert_allclose(out["sd_mass"], ak.to_numpy(groomed.msoftdrop), rtol=1e-9, atol=1e-6)
    for name in ("c2", "d2"):
        reference = ak.to_numpy(ca.exclusive_jets_energy_correlator(njets=1, beta=1.0, func=name))
        np.testing.assert_allclose(out[name], reference, rtol=1e-9)
    antikt = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, 1000.0))
    taus = ak.to_numpy(
        antikt.njettiness(
            axes_definition="KT_Axes", measure_definition="NormalizedMeasure", njets=[1, 2, 3, 4], beta=1.0, R0=R0
        )
    )
    for n in range(1, 5):
        np.testing.assert_allclose(out[f"tau{n}"], taus[:, n - 1], rtol=1e-9, atol=1e-12)


def test_chunking_does_not_change_results_and_bad_input_is_refused():
    jets = random_jets(25, seed=4)
    whole, chunked = features_of(jets), features_of(jets, chunk_size=7)
    for name in FEATURE_NAMES:
        np.testing.assert_array_equal(whole[name], chunked[name])
    e, px, py, pz = jagged(jets)
    with pytest.raises(ValueError, match="same number of constituents"):
        substructure_features(e, px[:, :1], py, pz)
    with pytest.raises(ValueError, match="jet_r"):
        substructure_features(e, px, py, pz, jet_r=0.0)
    empty = substructure_features(e[:0], px[:0], py[:0], pz[:0])
    assert all(empty[name].shape == (0,) for name in FEATURE_NAMES)


def test_top_jets_are_three_pronged_with_a_top_mass_after_grooming(tiny_samples):
    top = read_tree(tiny_samples["toptag_ttbar"])
    qcd = read_tree(tiny_samples["toptag_qcd"])
    top_features = substructure_features(top.part_E, top.part_px, top.part_py, top.part_pz)
    qcd_features = substructure_features(qcd.part_E, qcd.part_px, qcd.part_py, qcd.part_pz)
    assert np.mean(top_features["tau32"]) < np.mean(qcd_features["tau32"])
    assert abs(np.median(top_features["sd_mass"]) - TOP_MASS) < 25.0
    # the stored constituents are the leading ones of the jet, so their sum is the jet (up to truncated tails)
    assert np.median(np.abs(top_features["mass"] - ak.to_numpy(top.jet_mass))) < 1e-2
