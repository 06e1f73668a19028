"""The light-squark pair cross sections: the 10-squark NNLL-fast total split over its states, sbottoms once."""

from __future__ import annotations

import numpy as np
import pytest

from ml4hep.susy.xsec import SQUARKS, cross_sections, light_squark_pair_per_state, table_path

LIGHT_CHANNELS = [f"squark_pair_{name[2:]}" for name in SQUARKS]


def table_value(channel: str, m1: float, m2: float, order: str = "nnll") -> float:
    """A grid point read straight from the bundled CSV (fb), independent of the interpolation code."""
    lines = [line for line in table_path(channel).read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    rows = np.loadtxt(lines[1:], delimiter=",")
    column = {"nlo": 2, "nnll": 3}[order]
    (hit,) = np.flatnonzero((rows[:, 0] == m1) & (rows[:, 1] == m2))
    return float(rows[hit, column]) * 1000.0


def spectrum_point(squarks: float, gluino: float, sbottom1: float, sbottom2: float) -> dict[str, np.ndarray]:
    """The masses :func:`cross_sections` reads, light squarks degenerate, electroweak sector far away."""
    masses = {name: squarks for name in SQUARKS}
    masses |= {"m_squark": squarks, "m_gluino": gluino, "m_st1": 3000.0, "m_sb1": sbottom1, "m_sb2": sbottom2}
    masses |= {"m_chi1p": 1500.0, "wino_chi1p": 1.0, "m_eL": 1500.0, "m_eR": 1500.0}
    return {k: np.array([v]) for k, v in masses.items()}


def test_table_header_counts_ten_squarks_with_sbottoms():
    # the split below is right only for tables summed over u d s c b (L and R): 10 squarks
    for channel in ("squark_antisquark", "squark_squark"):
        header = table_path(channel).read_text(encoding="utf-8").splitlines()[0]
        assert "dl dr ul ur sl sr cl cr bl br" in header


@pytest.mark.parametrize("order", ["nnll", "nlo"])
@pytest.mark.parametrize(("mass", "gluino"), [(500.0, 500.0), (1000.0, 2000.0), (1500.0, 1000.0), (2500.0, 3000.0)])
def test_all_squark_states_at_one_mass_add_up_to_the_table(mass, gluino, order):
    sigma = cross_sections(spectrum_point(mass, gluino, mass, mass), order)
    states = sum(sigma[c][0] for c in LIGHT_CHANNELS) + sigma["sbottom_pair"][0] + sigma["sbottom2_pair"][0]
    table = table_value("squark_antisquark", mass, gluino, order) + table_value("squark_squark", mass, gluino, order)
    assert states == pytest.approx(table, rel=1e-9)


def test_sbottoms_enter_once():
    light = cross_sections(spectrum_point(1000.0, 2000.0, 1000.0, 1000.0))
    heavy_sbottoms = cross_sections(spectrum_point(1000.0, 2000.0, 2500.0, 2800.0))
    # the light-squark channels hold no sbottom: moving the sbottoms leaves them unchanged
    for channel in LIGHT_CHANNELS:
        assert heavy_sbottoms[channel][0] == light[channel][0]
    # each sbottom eigenstate is one stop-like pair at its own mass
    assert light["sbottom_pair"][0] == pytest.approx(table_value("stop_pair", 1000.0, 2000.0), rel=1e-9)
    assert heavy_sbottoms["sbottom2_pair"][0] == pytest.approx(table_value("stop_pair", 2800.0, 2000.0), rel=1e-9)
    # and the light channels are the table minus both sbottoms, not the whole table (what was counted before)
    table = table_value("squark_antisquark", 1000.0, 2000.0) + table_value("squark_squark", 1000.0, 2000.0)
    light_total = sum(light[c][0] for c in LIGHT_CHANNELS)
    assert light_total == pytest.approx(table - 2 * table_value("stop_pair", 1000.0, 2000.0), rel=1e-9)
    assert light_total < table


def test_mass_point_values():
    # m_squark = 1 TeV, m_gluino = 2 TeV, NNLL: sb 0.1686830 pb, ss 0.2308034 pb, st 0.006837043 pb
    sigma = cross_sections(spectrum_point(1000.0, 2000.0, 1000.0, 1000.0))
    per_state = (168.6830 + 230.8034 - 2 * 6.837043) / 8
    assert per_state == pytest.approx(48.2265, abs=1e-4)
    assert sigma["squark_pair_uL"][0] == pytest.approx(2 * per_state, rel=1e-6)  # uL and cL
    assert light_squark_pair_per_state(np.array([1000.0]), np.array([2000.0]))[0] == pytest.approx(per_state, 1e-6)


def test_non_degenerate_squarks_take_their_own_mass():
    masses = spectrum_point(1000.0, 2000.0, 1000.0, 1000.0)
    masses["m_uR"] = np.array([1500.0])
    sigma = cross_sections(masses)
    assert sigma["squark_pair_uR"][0] == pytest.approx(
        2 * light_squark_pair_per_state(np.array([1500.0]), np.array([2000.0]))[0], rel=1e-12
    )
    assert sigma["squark_pair_uR"][0] < 0.2 * sigma["squark_pair_uL"][0]  # a steeply falling cross section
