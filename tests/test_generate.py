"""Physics sanity and reproducibility of the generated samples (tiny shards made by the library)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from ml4hep.errors import GenerationError
from ml4hep.generate.processes import generated_processes, shard_config
from ml4hep.generate.pythia import make_pythia
from ml4hep.generate.record import delta_r
from ml4hep.generate.shard import generate_shard
from ml4hep.io import read_run_info, read_tree

TOP_MASS = 172.5
Z_MASS = 91.19


def test_top_jets_peak_at_the_top_mass_and_qcd_jets_do_not(tiny_samples):
    top = read_tree(tiny_samples["toptag_ttbar"])
    qcd = read_tree(tiny_samples["toptag_qcd"])
    assert len(top) > 20 and len(qcd) > 20
    assert np.all(top.is_signal_new == 1) and np.all(qcd.is_signal_new == 0)
    assert abs(np.median(top.jet_mass) - TOP_MASS) < 15
    in_window = lambda m: np.mean((m > 140) & (m < 200))  # noqa: E731
    assert in_window(top.jet_mass) > 0.6
    assert in_window(qcd.jet_mass) < 0.3
    assert np.median(qcd.jet_mass) < 130


def test_top_jet_definition(tiny_samples, test_config):
    options = test_config["samples"]["toptag"]
    for name in ("toptag_ttbar", "toptag_qcd"):
        jets = read_tree(tiny_samples[name])
        assert np.all((jets.jet_pt >= options["jet_min_pt"]) & (jets.jet_pt <= options["jet_max_pt"]))
        assert np.all(np.abs(jets.jet_eta) < options["jet_max_eta"])
        n = ak.num(jets.part_E)
        assert ak.all(n <= options["max_constituents"]) and ak.all(n > 0)
        part_pt = np.hypot(jets.part_px, jets.part_py)
        assert ak.all(part_pt[:, :-1] >= part_pt[:, 1:]), "constituents must be pT-ordered"
        # The constituents add up to the jet (up to the max_constituents cut, not hit at this size).
        sum_px, sum_py = ak.sum(jets.part_px, axis=1), ak.sum(jets.part_py, axis=1)
        np.testing.assert_allclose(np.hypot(sum_px, sum_py), jets.jet_pt, rtol=1e-6)


def test_ztautau_visible_mass_lies_below_the_z_mass(tiny_samples):
    events = read_tree(tiny_samples["higgs_ztautau"])
    truth = ak.to_numpy(events.truth_ditau_mass)
    assert abs(np.nanmedian(truth) - Z_MASS) < 5
    lephad = events[(ak.num(events.lep_pt) >= 1) & (ak.num(events.tau_pt) >= 1)]
    assert len(lephad) > 10
    lep = ak.zip(
        {
            "pt": lephad.lep_pt[:, 0],
            "eta": lephad.lep_eta[:, 0],
            "phi": lephad.lep_phi[:, 0],
            "mass": 0.0 * lephad.lep_pt[:, 0],
        },
        with_name="Momentum4D",
    )
    tau = ak.zip(
        {
            "pt": lephad.tau_pt[:, 0],
            "eta": lephad.tau_eta[:, 0],
            "phi": lephad.tau_phi[:, 0],
            "mass": lephad.tau_m[:, 0],
        },
        with_name="Momentum4D",
    )
    visible_mass = ak.to_numpy((lep + tau).mass)
    assert np.median(visible_mass) < Z_MASS - 15
    assert np.mean(visible_mass < Z_MASS + 10) > 0.9


def test_higgs_truth_mass_and_tau_content(tiny_samples):
    events = read_tree(tiny_samples["higgs_ggh125"])
    assert abs(np.nanmedian(ak.to_numpy(events.truth_ditau_mass)) - 125.0) < 3
    taus = ak.flatten(events.tau_m)
    assert len(taus) > 20
    assert np.all(ak.to_numpy(taus) < 1.777 * 1.5), "visible hadronic-tau mass must stay below ~m_tau"
    assert set(np.unique(ak.to_numpy(ak.flatten(events.tau_nprong)))) <= {1, 2, 3, 4, 5}
    assert set(np.unique(ak.to_numpy(ak.flatten(events.lep_pdgid)))) <= {11, 13}
    assert ak.all(events.lep_from_tau), "in H->tautau every prompt lepton comes from a tau"
    # Jets are clustered without the tau's particles, so no jet sits on an accepted hadronic tau.
    pairs = ak.cartesian(
        {
            "tau": ak.zip({"eta": events.tau_eta, "phi": events.tau_phi}),
            "jet": ak.zip({"eta": events.jet_eta, "phi": events.jet_phi}),
        }
    )
    dr = delta_r(
        ak.to_numpy(ak.flatten(pairs.tau.eta)),
        ak.to_numpy(ak.flatten(pairs.tau.phi)),
        ak.to_numpy(ak.flatten(pairs.jet.eta)),
        ak.to_numpy(ak.flatten(pairs.jet.phi)),
    )
    assert np.mean(dr < 0.1) < 0.05


def test_met_follows_the_neutrinos(tiny_samples):
    events = read_tree(tiny_samples["higgs_ztautau"])
    met, met_true = ak.to_numpy(events.met), ak.to_numpy(events.met_true)
    assert np.corrcoef(met, met_true)[0, 1] > 0.7
    assert np.all(met >= 0) and np.all(events.met_sumet > 0)


def test_weights_sum_to_sigma_times_luminosity(tiny_samples, test_config):
    for name in ("higgs_ztautau", "toptag_qcd"):
        spec = generated_processes(test_config)[name]
        run = read_run_info(tiny_samples[name])
        weights = ak.to_numpy(read_tree(tiny_samples[name], ["weight"]).weight)
        expected_all_shards = run["sigma_pb"] * 1e3 * test_config["luminosity_fb"]
        # A shard holds n/N of the process's events, so its weights sum to that fraction of sigma x L.
        if name.startswith("higgs"):
            # Each event carries its generator weight (the di-tau filter's, docs/higgs.md "The generation filter").
            generator = ak.to_numpy(read_tree(tiny_samples[name], ["generator_weight"]).generator_weight)
            fraction = run["events_generated"] / spec.events
            np.testing.assert_allclose(weights.sum(), expected_all_shards * fraction * generator.mean(), rtol=1e-9)
        else:
            np.testing.assert_allclose(weights[0] * spec.events, expected_all_shards, rtol=1e-9)
        assert run["sigma_err_pb"] < 0.2 * run["sigma_pb"]


def test_same_seed_same_events_other_shard_other_events(test_config, tmp_path):
    spec = generated_processes(test_config)["higgs_ggh125"]
    small = {**shard_config(test_config, "higgs"), "batch_size": 30}
    spec = type(spec)(spec.name, spec.sample_set, spec.settings, 60, 2, spec.parameters)
    a = read_tree(generate_shard(spec, 0, small, tmp_path / "a.root", progress=False) and tmp_path / "a.root")
    b = read_tree(generate_shard(spec, 0, small, tmp_path / "b.root", progress=False) and tmp_path / "b.root")
    c = read_tree(generate_shard(spec, 1, small, tmp_path / "c.root", progress=False) and tmp_path / "c.root")
    assert ak.to_list(a) == ak.to_list(b)
    assert ak.to_list(a.met) != ak.to_list(c.met)


def test_bad_pythia_setting_is_a_clear_error():
    with pytest.raises(GenerationError, match="rejected the setting 'Top:gg2tbar = on'"):
        make_pythia(["Top:gg2tbar = on"], seed=1)


def test_shards_split_events_and_seeds(test_config):
    specs = generated_processes(test_config)
    ztautau = specs["higgs_ztautau"]
    assert ztautau.shards == 4
    assert sum(ztautau.shard_events(s) for s in range(ztautau.shards)) == ztautau.events
    assert ztautau.shard_seed(7, 0) != ztautau.shard_seed(7, 1)
    assert {"higgs_heavyh300", "higgs_heavyh500", "toptag_ttbar", "toptag_qcd"} <= set(specs)
    with pytest.raises(IndexError):
        ztautau.shard_events(4)


def test_user_inputs_replace_generation(test_config):
    config = {**test_config, "inputs": {"higgs_ztautau": {"files": ["z.root"]}}}
    assert "higgs_ztautau" not in generated_processes(config)
