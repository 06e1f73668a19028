"""The generator-level di-tau filter: forced lep-had decays and the acceptance veto keep the yields unbiased.

The samples here are generated without MPI and hadronisation (the showers and the tau decays stay on, and the
tau decays are most of the time), which keeps what the filter and the lep-had selection look at.
"""

from __future__ import annotations

import copy

import awkward as ak
import numpy as np
import pytest

from ml4hep.errors import GenerationError
from ml4hep.generate.ditau_filter import DitauFilter, boson_tau_kinematics, make_hook
from ml4hep.generate.processes import ProcessSpec, generated_processes, shard_config
from ml4hep.generate.pythia import make_pythia
from ml4hep.generate.record import FlatRecord
from ml4hep.generate.shard import generate_shard
from ml4hep.higgs.features import select_lephad
from ml4hep.io import read_run_info, read_tree

FAST = ("PartonLevel:MPI = off", "HadronLevel:Hadronize = off")
TAU_LEPTONIC_FRACTION = 0.3504  # Pythia's tau table: 17.73% e + 17.31% mu
KEEP_OUTSIDE = 0.5  # here, so that events outside the region are many and each weighs only 2


def _spec(test_config: dict, events: int, ditau_filter: dict, name: str = "higgs_ztautau") -> ProcessSpec:
    spec = generated_processes(test_config)[name]
    return ProcessSpec(spec.name, spec.sample_set, (*spec.settings, *FAST), events, 1, spec.parameters, ditau_filter)


def _generate(test_config: dict, spec: ProcessSpec, path, seed: int = 7) -> tuple[ak.Array, dict]:
    config = {**shard_config(test_config, "higgs"), "seed": seed}
    generate_shard(spec, 0, config, path, progress=False)
    return read_tree(path), read_run_info(path)


@pytest.fixture(scope="module")
def filter_options(test_config) -> dict:
    return {**generated_processes(test_config)["higgs_ztautau"].ditau_filter, "keep_outside": KEEP_OUTSIDE}


@pytest.fixture(scope="module")
def unfiltered_and_filtered(test_config, filter_options, tmp_path_factory):
    """An unfiltered and a filtered Z->tautau sample of a few hundred events each (about 10 CPU-s: tau decays)."""
    folder = tmp_path_factory.mktemp("ditau")
    plain = _generate(test_config, _spec(test_config, 400, {}), folder / "plain.root")
    filtered = _generate(test_config, _spec(test_config, 300, filter_options), folder / "filtered.root")
    return plain, filtered


def _selected_yield(events: ak.Array) -> tuple[float, float, int]:
    weights = ak.to_numpy(select_lephad(events).weight)
    return float(weights.sum()), float(np.sqrt((weights**2).sum())), len(weights)


def test_filtered_yields_agree_with_the_unfiltered_ones(unfiltered_and_filtered, test_config):
    (plain, plain_run), (filtered, run) = unfiltered_and_filtered
    # All filtered events are lep-had: their weights sum to the lep-had cross section, sigma x L x 2 B_l B_h
    # (sigma from the unfiltered sample), within Pythia's sigma errors and the spread of the veto's weights.
    luminosity = test_config["luminosity_fb"] * 1e3  # pb^-1
    expected = plain_run["sigma_pb"] * luminosity * run["ditau_decay_weight"]
    generator_weight = ak.to_numpy(filtered.generator_weight)
    base = run["sigma_pb"] * luminosity / len(filtered)
    spread = base * np.std(generator_weight) * np.sqrt(len(filtered))
    sigma_errors = np.hypot(run["sigma_err_pb"] / run["sigma_pb"], plain_run["sigma_err_pb"] / plain_run["sigma_pb"])
    error = np.hypot(spread, sigma_errors * expected)
    total = ak.sum(filtered.weight)
    # Seeded, so deterministic: -0.3 standard deviations here; without the 1 / keep_outside it would be -4.8.
    assert abs(total - expected) < 3 * error, (total, expected, error)
    assert error < 0.07 * expected, "precise enough to see a missing 1 / keep_outside (a shift of ~24%)"
    # The selected (lep-had) yields agree within the MC statistics; the filtered sample has more selected events.
    plain_yield, plain_err, plain_n = _selected_yield(plain)
    filtered_yield, filtered_err, filtered_n = _selected_yield(filtered)
    assert plain_n >= 15 and filtered_n > 1.5 * plain_n * 300 / 400
    assert abs(filtered_yield - plain_yield) < 3 * np.hypot(plain_err, filtered_err)


def test_filter_efficiency_and_decay_weight_enter_the_weights(unfiltered_and_filtered):
    (plain, plain_run), (filtered, run) = unfiltered_and_filtered
    assert run["events_filter_vetoed"] > 0 and run["events_filter_seen"] >= run["events_filter_vetoed"] + 300
    kept = 1 - run["events_filter_vetoed"] / run["events_filter_seen"]
    # Pythia's cross section is that of the kept events: the unfiltered one times the fraction kept.
    expected = plain_run["sigma_pb"] * kept
    assert abs(run["sigma_pb"] - expected) < 4 * np.hypot(run["sigma_err_pb"], plain_run["sigma_err_pb"] * kept)
    decay_weight = 2 * TAU_LEPTONIC_FRACTION * (1 - TAU_LEPTONIC_FRACTION)
    np.testing.assert_allclose(run["ditau_decay_weight"], decay_weight, rtol=2e-3)
    generator_weight = ak.to_numpy(filtered.generator_weight)
    np.testing.assert_allclose(
        np.unique(generator_weight), [run["ditau_decay_weight"], run["ditau_decay_weight"] / KEEP_OUTSIDE]
    )
    base = run["sigma_pb"] * 1e3 * 140.0 / 300
    np.testing.assert_allclose(ak.to_numpy(filtered.weight), base * generator_weight, rtol=1e-9)
    np.testing.assert_array_equal(ak.to_numpy(plain.generator_weight), 1.0)
    # The coin gives both charges their leptonic tau.
    lepton_charge = ak.to_numpy(select_lephad(filtered).lep_charge[:, 0])
    assert 0.25 < np.mean(lepton_charge > 0) < 0.75


def test_the_filter_is_seeded(test_config, filter_options, tmp_path):
    spec = _spec(test_config, 30, filter_options)
    a, run_a = _generate(test_config, spec, tmp_path / "a.root")
    b, run_b = _generate(test_config, spec, tmp_path / "b.root")
    c, _ = _generate(test_config, spec, tmp_path / "c.root", seed=8)
    assert ak.to_list(a) == ak.to_list(b)
    assert run_a["events_filter_vetoed"] == run_b["events_filter_vetoed"]
    assert ak.to_list(a.met) != ak.to_list(c.met)


def test_no_filter_is_one_switch_away(test_config):
    config = copy.deepcopy(test_config)
    assert generated_processes(config)["higgs_ztautau"].ditau_filter
    assert "ditau_filter" not in generated_processes(config)["higgs_ggh125"].to_dict()
    config["samples"]["higgs"]["ditau_filter"]["processes"] = []
    assert not generated_processes(config)["higgs_ztautau"].ditau_filter
    assert "ditau_filter" not in shard_config(config, "higgs")["samples"]["higgs"]


def _batch(taus: list[list[tuple[float, float, float, float]]]) -> ak.Array:
    """A nextBatch-like record per event: system, Z, the two taus from the Z, each tau's photon-radiating copy."""
    events = []
    for pair in taus:
        # 0 system, 1 Z (daughters 2, 3), 2 tau- -> 4, 3 tau+ -> 5, 4 and 5 the last copies (no daughters).
        ids = [90, 23, 15, -15, 15, -15]
        mother1 = [0, 0, 1, 1, 2, 3]
        daughter1 = [0, 2, 4, 5, 0, 0]
        daughter2 = [0, 3, 4, 5, 0, 0]
        momenta = [(0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 91.0), (1.0, 0.0, 0.0, 2.0), (-1.0, 0.0, 0.0, 2.0), *pair]
        status = [-11, -22, -23, -23, 2, 2]
        particles = zip(ids, status, mother1, daughter1, daughter2, momenta, strict=True)
        events.append(
            [
                {
                    "id": i,
                    "status": st,
                    "mother1": m,
                    "daughter1": d1,
                    "daughter2": d2,
                    "p": dict(zip(("px", "py", "pz", "e"), p, strict=True)),
                }
                for i, st, m, d1, d2, p in particles
            ]
        )
    return ak.Array({"prt": events})


def test_the_region_uses_the_last_tau_copies():
    ditau_filter = DitauFilter(force_lephad=True, keep_outside=0.2, min_pt_gev=10, lead_min_pt_gev=18, max_abs_eta=2.7)
    inside = [(30.0, 0.0, 0.0, 30.0), (-12.0, 0.0, 5.0, 13.0)]  # pT 30 and 12, central
    soft = [(30.0, 0.0, 0.0, 30.0), (-8.0, 0.0, 1.0, 8.1)]  # the softer tau below 10 GeV
    forward = [(30.0, 0.0, 0.0, 30.0), (-20.0, 0.0, 300.0, 301.0)]  # eta ~ 3.4
    batch = _batch([inside, soft, forward])
    pt, eta = boson_tau_kinematics(FlatRecord.from_batch(batch.prt))
    np.testing.assert_allclose(pt[0], [30.0, 12.0])  # the last copies, not the first ones (pT 1)
    assert abs(eta[2, 1]) > 2.7
    np.testing.assert_array_equal(ditau_filter.inside(pt[:, 0], pt[:, 1], eta[:, 0], eta[:, 1]), [True, False, False])


def test_the_hook_weighs_what_it_thinned(test_config, filter_options):
    """Events of weight 1 (times the decay weight) are inside the region by their own record, the others thinned."""
    ditau_filter = DitauFilter.from_options(filter_options)
    hook = make_hook(ditau_filter, np.random.default_rng(3))
    run = make_pythia(_spec(test_config, 60, filter_options).settings, seed=11, user_hooks=hook)
    hook.attach(run.pythia)
    batch = next(run.batches(60, 60))
    weights = hook.take_weights(len(batch)) / hook.decay_weight
    pt, eta = boson_tau_kinematics(FlatRecord.from_batch(batch.prt))
    inside = ditau_filter.inside(pt[:, 0], pt[:, 1], eta[:, 0], eta[:, 1])
    assert np.all(inside[weights == 1.0]) and inside.sum() > 10
    np.testing.assert_allclose(weights[~inside], 1 / KEEP_OUTSIDE)
    assert set(np.unique(weights)) <= {1.0, 1 / KEEP_OUTSIDE}
    with pytest.raises(GenerationError, match="the batch has 5"):
        hook.take_weights(5)
