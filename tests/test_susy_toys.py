"""Toy-based CLs in the small-background regions: pyhf's toys, seeded, on a grid of the signal, read by the recast."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml4hep.susy.recast import CLS_THRESHOLD, EXCLUDED, SIGNAL_REGIONS, cls_test, label_points
from ml4hep.susy.scan import PARAMETERS
from ml4hep.susy.toys import ToyCLs, read_toys, signal_for_cls, small_background_regions, toy_cls, toys_job


def test_toys_are_seeded_and_near_the_asymptotic_cls():
    # b = 5 +- 1, n = 5, s = 2: asymptotic 0.45, within reach of 15 toys (docs/susy.md: 1000 toys near CLs = 0.05)
    first = toy_cls(2.0, 5.0, 1.0, 5, 15, seed=3)
    assert toy_cls(2.0, 5.0, 1.0, 5, 15, seed=3) == first
    asymptotic = cls_test(2.0, 5.0, 1.0, 5)[0]
    assert 0.4 < asymptotic < 0.6
    assert 0.5 * asymptotic < first < min(1.0, 2 * asymptotic)  # 15 toys: a coarse estimate of the same CLs


def test_the_global_generator_is_left_as_found():
    np.random.seed(12)
    expected = np.random.uniform()
    np.random.seed(12)
    toy_cls(4.0, 5.0, 1.0, 5, 10, seed=1)
    assert np.random.uniform() == expected


def test_unresolved_toys_leave_the_asymptotic_cls():
    # 20 toys cannot tell a CLs of 0.01 from 0: the ratio there is 1, not 0 or a floor
    table = ToyCLs({"sr": np.array([2.0, 6.0])}, {"sr": np.array([0.5, 0.05])}, {"sr": np.array([0.4, 0.01])}, 20)
    assert table.ratio("sr").tolist() == [1.25, 1.0]
    assert table("sr", 6.0, 0.01) == pytest.approx(0.01) and table("sr", 2.0, 0.4) == pytest.approx(0.5)
    assert table("sr", 2.0, 0.9) == 1.0  # a CLs stays a probability


def test_signal_for_cls_inverts_the_asymptotic_test():
    s = signal_for_cls(0.05, 8.0, 2.0, 9)
    assert cls_test(s, 8.0, 2.0, 9)[0] == pytest.approx(0.05, rel=0.02)


def test_only_small_background_regions_get_toys(test_config, tmp_path):
    regions = test_config["susy"]["recast"]["signal_regions"]
    small = small_background_regions(regions, 10.0)
    assert small == [r for r in SIGNAL_REGIONS if regions[r]["background"] <= 10.0] and 0 < len(small) < 4
    options = {"max_background": 6.0, "ntoys": 10, "grid_points": 2, "cls_band": [0.01, 0.3]}
    record = toys_job(regions, options, 5, tmp_path / "toys.json")  # what rule susy_toys runs
    table = read_toys([tmp_path / "toys.json"])
    assert table.regions() == small_background_regions(regions, 6.0) == list(record["regions"])
    assert table.ntoys == 10 and record["seed"] == 5
    for region in table.regions():
        assert np.all(np.diff(table.signal[region]) > 0) and np.all((table.cls[region] >= 0) & (table.cls[region] <= 1))
        assert table.asymptotic[region][0] == pytest.approx(0.3, rel=0.02)
        assert table.asymptotic[region][-1] == pytest.approx(0.01, rel=0.02)


def test_the_recast_reads_the_toy_cls_inside_the_grid_only(test_config, tmp_path):
    recast = test_config["susy"]["recast"]
    values = {name: np.full(3, 4000.0) for name in PARAMETERS}
    values |= {"M1": np.full(3, 1.0), "M3": np.array([1000.0, 2300.0, 2600.0])}
    values |= {"At": np.zeros(3), "Ab": np.zeros(3), "Atau": np.zeros(3), "tanb": np.full(3, 10.0)}
    plain = label_points(values, recast["signal_regions"], recast["luminosity_fb"])
    middle = plain["s_jets_met_2j"][1]
    assert plain["s_jets_met_2j"][0] > 1.2 * middle > middle > 1.2 * plain["s_jets_met_2j"][2]
    # a made-up table around the middle point: toys give 0.2 times the asymptotic CLs there
    grid = {"signal": [0.9 * middle, 1.1 * middle], "cls_toys": [0.02, 0.02], "cls_asymptotic": [0.1, 0.1]}
    table = {"jets_met_2j": {**grid, "ntoys": 1000}}
    path = tmp_path / "toys.json"
    path.write_text(json.dumps({"regions": table}))
    toys = read_toys([path])
    assert read_toys([]) is None and toys.covers("jets_met_2j", middle) and not toys.covers("one_lepton", middle)
    with_toys = label_points(values, recast["signal_regions"], recast["luminosity_fb"], toys=toys)
    cls_2j = with_toys["cls_obs_jets_met_2j"]
    assert cls_2j[1] == pytest.approx(0.2 * plain["cls_obs_jets_met_2j"][1])
    np.testing.assert_array_equal(cls_2j[[0, 2]], plain["cls_obs_jets_met_2j"][[0, 2]])
    np.testing.assert_array_equal(with_toys["cls_asymptotic"], plain["cls"])
    for i in range(3):
        best = SIGNAL_REGIONS[with_toys["best_region"][i]]
        assert with_toys["cls_toys"][i] == int(best == "jets_met_2j" and i == 1)
        assert (with_toys["excluded"][i] == EXCLUDED) == (with_toys["cls"][i] < CLS_THRESHOLD)
