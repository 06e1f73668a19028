import numpy as np
import pytest

from ml4hep.susy.recast import (
    ALLOWED,
    EXCLUDED,
    NOT_LABELLED,
    SIGNAL_REGIONS,
    cls_test,
    gluino_branching_ratios,
    label_points,
    recast_point,
    topologies,
)
from ml4hep.susy.scan import PARAMETERS, sample_points
from ml4hep.susy.spectrum import spectrum
from ml4hep.susy.xsec import _read_table, cross_sections, ew_grid, strong_grid, table_path


@pytest.fixture(scope="module")
def recast_config(test_config):
    return test_config["susy"]["recast"]


def point(**changes):
    values = {name: 4000.0 for name in PARAMETERS}
    values.update(At=0.0, Ab=0.0, Atau=0.0, tanb=10.0)
    values.update(changes)
    return values


def run(values, recast_config):
    return recast_point(
        values,
        recast_config["signal_regions"],
        recast_config["luminosity_fb"],
        recast_config["min_signal_events"],
        recast_config["xsec_order"],
    )


def test_light_gluino_with_massless_lsp_is_excluded(recast_config):
    result = run(point(M3=1000.0, M1=1.0), recast_config)
    assert result["lsp"] == 0
    assert result["excluded"] == EXCLUDED
    assert result["cls"] < 1e-3
    assert SIGNAL_REGIONS[result["best_region"]].startswith("jets_met")


def test_all_masses_at_4_tev_is_allowed(recast_config):
    result = run(point(M1=3900.0), recast_config)
    assert result["lsp"] == 0
    assert result["excluded"] == ALLOWED
    assert max(result[f"s_{r}"] for r in SIGNAL_REGIONS) < recast_config["min_signal_events"]


def test_limit_moves_with_the_gluino_mass(recast_config):
    cls = [run(point(M3=m, M1=1.0), recast_config)["cls"] for m in (1800.0, 2200.0, 2600.0, 3000.0)]
    assert np.all(np.diff(cls) > 0)
    assert cls[0] < 0.05 < cls[-1]


def test_non_neutralino_lsp_is_not_labelled(recast_config):
    result = run(point(M1=1000.0, mE1=300.0), recast_config)
    assert result["excluded"] == NOT_LABELLED


def test_cls_decreases_with_signal():
    values = [cls_test(s, 10.0, 2.0, 10.0)[0] for s in (1.0, 5.0, 20.0)]
    assert values[0] > values[1] > values[2]
    assert values[0] > 0.05 > values[2]


def test_cross_sections_interpolate_in_log_sigma():
    rows = _read_table(table_path("gluino_pair"))
    ms, mg, nnll = rows[:, 0], rows[:, 1], rows[:, 3] * 1000.0
    node = (ms == 1500) & (mg == 1200)
    grid = strong_grid("gluino_pair")
    assert grid(np.array(1500.0), np.array(1200.0)) == pytest.approx(nnll[node][0], rel=1e-9)
    low, high = nnll[(ms == 1500) & (mg == 1200)][0], nnll[(ms == 1500) & (mg == 1300)][0]
    assert grid(np.array(1500.0), np.array(1250.0)) == pytest.approx(np.sqrt(low * high), rel=1e-9)
    wino = ew_grid("c1n2_wino")
    assert wino(np.array([100.0]))[0] == pytest.approx(22670.1, rel=1e-4)  # table value in fb
    assert wino(np.array([3000.0]))[0] < wino(np.array([2000.0]))[0]  # extrapolated, still falling


def test_label_points_columns(recast_config):
    values = {k: np.array([v, v]) for k, v in point(M1=3900.0).items()}
    values["M3"] = np.array([1000.0, 4000.0])
    values["M1"] = np.array([1.0, 3900.0])
    out = label_points(values, recast_config["signal_regions"], recast_config["luminosity_fb"])
    assert list(out["excluded"]) == [EXCLUDED, ALLOWED]
    assert out["seconds"].shape == (2,) and np.all(out["seconds"] > 0)
    sigma = cross_sections({k: v for k, v in out.items()})
    assert sigma["gluino_pair"][0] > 1e3 * sigma["gluino_pair"][1]


def gluino_masses(**changes: float) -> dict[str, np.ndarray]:
    """The masses the gluino decay reads: every squark at 2 TeV, a 1.5 TeV gluino, a 100 GeV LSP."""
    names = ("m_uL", "m_uR", "m_dL", "m_dR", "m_sb1", "m_sb2", "m_st1", "m_st2")
    values = {name: 2000.0 for name in names} | {"m_gluino": 1500.0, "m_chi10": 100.0} | changes
    return {k: np.array([v]) for k, v in values.items()}


def test_gluino_branching_ratios_count_each_squark_once():
    # degenerate squarks: 8 light states, 2 sbottoms, 2 stops share the gluino's decays 8 : 2 : 2
    br = gluino_branching_ratios(gluino_masses())
    assert br["qq"][0] == pytest.approx(8 / 12) and br["bb"][0] == pytest.approx(2 / 12)
    assert br["tt"][0] == pytest.approx(2 / 12)
    # a light sbottom_1 enters once: (2 TeV / 1 TeV)^4 = 16 times one heavy state's weight
    light_sb1 = gluino_branching_ratios(gluino_masses(m_sb1=1000.0))
    assert light_sb1["bb"][0] == pytest.approx(17 / 27)  # 16 + 1 of 8 + (16 + 1) + 2
    # and b~2 enters too: decoupling it takes its one share away
    heavy_sb2 = gluino_branching_ratios(gluino_masses(m_sb2=1e6))
    assert heavy_sb2["bb"][0] == pytest.approx(1 / 11)
    # the tops close below 2 m_t + m_chi10
    closed = gluino_branching_ratios(gluino_masses(m_gluino=400.0))
    assert closed["tt"][0] == 0.0 and closed["qq"][0] == pytest.approx(0.8)


def test_gluino_branching_ratios_sum_to_one_on_scan_points(test_config):
    points = sample_points(300, 4, test_config["susy"]["scan"]["ranges"])
    masses = spectrum(points)
    valid = masses["lsp"] == 0
    br = gluino_branching_ratios({k: v[valid] for k, v in masses.items()})
    total = br["qq"] + br["bb"] + br["tt"]
    assert valid.sum() > 20 and np.allclose(total, 1.0, atol=1e-12)
    assert np.all(br["bb"] > 0) and np.all(br["tt"] >= 0)
    # the recast's gluino topologies share sigma(gluinos) by these ratios
    sigma = cross_sections({k: v[valid] for k, v in masses.items()})
    tops = topologies({k: v[valid] for k, v in masses.items()}, sigma)
    gluinos = sigma["gluino_pair"] + 0.5 * sigma["squark_gluino"]
    np.testing.assert_allclose(tops["gluino_qq"]["sigma"] + tops["gluino_tt"]["sigma"], gluinos, rtol=1e-12)
    np.testing.assert_allclose(tops["gluino_tt"]["sigma"], gluinos * br["tt"], rtol=1e-12)
