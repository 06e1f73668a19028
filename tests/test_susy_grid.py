import numpy as np
import pytest

from ml4hep.susy.grid import GRID_REGIONS, GridEfficiency, grid_overrides, simulate_point
from ml4hep.susy.recast import signal_yields
from ml4hep.susy.spectrum import spectrum


def synthetic_rows():
    return [
        {
            "m_gluino": m,
            "lsp_fraction": f,
            "m_lsp": f * m,
            "eff_jets_met_2j": 0.1 * (m / 1000) * (1 - f),
            "eff_jets_met_4j": 0.3 * (1 - f),
        }
        for m in (1000.0, 2000.0)
        for f in (0.0, 0.5)
    ]


def test_grid_interpolation_and_clamping():
    eff = GridEfficiency(synthetic_rows(), "jets_met_2j")
    assert eff(np.array([1500.0]), np.array([1500.0]))[0] == pytest.approx(0.15)  # m_lsp = 0
    assert eff(np.array([1500.0]), np.array([1125.0]))[0] == pytest.approx(0.15 * 0.75)  # fraction 0.25, bilinear
    assert eff(np.array([4000.0]), np.array([4000.0]))[0] == pytest.approx(0.2)  # clamped to the grid
    assert eff(np.array([1500.0]), np.array([-10.0]))[0] == 0.0  # LSP heavier than the gluino


def test_grid_replaces_the_gluino_parametrisation(tmp_path):
    import csv

    path = tmp_path / "grid.csv"
    rows = synthetic_rows()
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    point = {
        k: np.array([4000.0])
        for k in ("M2", "mL1", "mE1", "mL3", "mE3", "mQ1", "mU1", "mD1", "mQ3", "mU3", "mD3", "mu", "mA")
    }
    point.update(
        M1=np.array([1.0]),
        M3=np.array([1500.0]),
        At=np.array([0.0]),
        Ab=np.array([0.0]),
        Atau=np.array([0.0]),
        tanb=np.array([10.0]),
    )
    masses = spectrum(point)
    default = signal_yields(masses, 139.0)
    with_grid = signal_yields(masses, 139.0, overrides=grid_overrides(path))
    assert with_grid["jets_met_4j"][0] != pytest.approx(default["jets_met_4j"][0], rel=1e-3)
    assert with_grid["two_lepton_ew"][0] == default["two_lepton_ew"][0]


def test_pythia_grid_point_compressed_vs_open():
    open_point = simulate_point(2200.0, 0.0, 100, 1)
    compressed = simulate_point(2200.0, 2100.0, 100, 2)
    assert open_point["events"] == 100 and open_point["sigma_lo_fb"] > 0
    for region in GRID_REGIONS:
        assert 0.0 <= open_point[f"eff_{region}"] <= 1.0
    assert open_point["eff_jets_met_4j"] > compressed["eff_jets_met_4j"] + 0.15
