import numpy as np
import pytest

from ml4hep.susy.recast import ALLOWED, EXCLUDED, NOT_LABELLED, SIGNAL_REGIONS, cls_test, label_points, recast_point
from ml4hep.susy.scan import PARAMETERS
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
