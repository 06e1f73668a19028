from __future__ import annotations

import re

import pytest

from ml4hep.config import _resolve, derive_seed, load_config, load_schema, validate_config
from ml4hep.errors import ConfigError

from .conftest import ROOT


def _walk(schema, root, path="", optional_block=False):
    """(key, node, inside an all-or-nothing block whose default is null) for every key of the schema."""
    node = _resolve(schema, root)
    for key, sub in node.get("properties", {}).items():
        resolved = _resolve(sub, root)
        yield f"{path}.{key}".lstrip("."), resolved, optional_block
        yield from _walk(sub, root, f"{path}.{key}", optional_block or resolved.get("default", 0) is None)


def test_every_key_has_a_default_and_a_description():
    schema = load_schema()
    keys = list(_walk(schema, schema))
    assert len(keys) > 30
    for key, node, optional_block in keys:
        assert "description" in node, f"{key} lacks a description"
        assert "default" in node or optional_block, f"{key} lacks a default"


def test_every_object_rejects_unknown_keys():
    schema = load_schema()
    for key, node, _ in _walk(schema, schema):
        if "object" in node.get("type", "") and "properties" in node:
            assert node.get("additionalProperties") is False, key


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml"])
def test_shipped_configs_validate(name):
    config = load_config(ROOT / "config" / name)
    assert config["samples"]["higgs"]["objects"]["jet_r"] == 0.4


def test_empty_config_gets_all_defaults():
    config = validate_config({})
    assert config["samples"]["toptag"]["jet_min_pt"] == 550.0
    assert config["samples"]["higgs"]["processes"]["ztautau"]["events"] > 0
    assert config["inputs"] == {}


def test_typo_is_rejected_naming_the_key():
    with pytest.raises(ConfigError, match=r"unknown config key 'samples\.higgs\.procesess'"):
        validate_config({"samples": {"higgs": {"procesess": {}}}})


def test_wrong_type_is_rejected_naming_the_key():
    with pytest.raises(ConfigError, match=r"config key 'samples\.toptag\.processes\.qcd\.events'.*not of type"):
        validate_config({"samples": {"toptag": {"processes": {"qcd": {"events": "many"}}}}})


def test_wrong_value_is_rejected_naming_the_key():
    with pytest.raises(ConfigError, match=r"config key 'device'"):
        validate_config({"device": "tpu"})
    with pytest.raises(ConfigError, match=r"inputs\.mine\.format"):
        validate_config({"inputs": {"mine": {"files": ["a.root"], "format": "parquet"}}})


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_seeds_are_reproducible_and_distinct():
    assert derive_seed(1, "higgs_ztautau", 0) == derive_seed(1, "higgs_ztautau", 0)
    seeds = {derive_seed(1, p, s) for p in ("a", "b") for s in range(50)} | {derive_seed(2, "a", 0)}
    assert len(seeds) == 101
    assert all(1 <= s <= 900_000_000 for s in seeds)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"higgs": {"split": {"train": 0.5, "val": 0.3, "test": 0.3}}}, "'higgs.split': the fractions must sum to 1"),
        ({"toptag": {"split": {"train": 0.1, "val": 0.1, "test": 0.1}}}, "'toptag.split': the fractions must sum"),
        ({"higgs": {"parameterised": {"left_out_mass": 450}}}, "'higgs.parameterised.left_out_mass' = 450 GeV"),
        ({"samples": {"higgs": {"heavy_higgs": {"masses_gev": []}}}}, "'samples.higgs.heavy_higgs.masses_gev' is empt"),
        (
            {
                "samples": {"higgs": {"heavy_higgs": {"masses_gev": [400, 500]}}},
                "higgs": {"parameterised": {"left_out_mass": 500}},
            },
            "fewer than 2 masses",
        ),
        ({"susy": {"scan": {"ranges": {"M3": [4000, 200]}}}}, "'susy.scan.ranges.M3' = \\[4000, 200\\] is reversed"),
        ({"inputs": {"mine": {"files": ["a.root", "./a.root"]}}}, "'inputs.mine.files' lists './a.root' twice"),
        (
            {"samples": {"higgs": {"processes": {"ttbar": {"events": 0}}}}},
            "'higgs.backgrounds' names 'higgs_ttbar', which is neither generated",
        ),
    ],
)
def test_start_up_rejects_inconsistent_keys(override, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(override)


def test_checks_of_a_task_that_does_not_run_are_skipped():
    validate_config({"tasks": ["pdf"], "higgs": {"parameterised": {"left_out_mass": 450}}})


TRAVERSAL = "../../outside"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"inputs": {TRAVERSAL: {"files": ["a.root"]}}}, "inputs"),
        ({"toptag": {"samples": [TRAVERSAL]}}, "toptag.samples.0"),
        (
            {"toptag": {"predefined_split": {"train": [TRAVERSAL], "val": ["a"], "test": ["b"]}}},
            "toptag.predefined_split.train.0",
        ),
        ({"higgs": {"signal": [TRAVERSAL]}}, "higgs.signal.0"),
        ({"higgs": {"backgrounds": [TRAVERSAL]}}, "higgs.backgrounds.0"),
        ({"higgs": {"higgsml": TRAVERSAL}}, "higgs.higgsml"),
        ({"pdf": {"datasets": {TRAVERSAL: {}}}}, "pdf.datasets"),
        ({"pdf": {"closure": {"held_out": [TRAVERSAL]}}}, "pdf.closure.held_out.0"),
    ],
)
def test_no_config_string_becomes_a_path_outside_results(override, key):
    """Every config string that names a file or folder under results/ is a plain name: a traversal is refused."""
    with pytest.raises(ConfigError, match=rf"config key '?{re.escape(key)}'?.*{re.escape(TRAVERSAL)}"):
        validate_config(override)


def test_events_zero_drops_a_default_process(tmp_path):
    from ml4hep.config import merge_configs, read_yaml
    from ml4hep.generate.processes import generated_processes

    mine = tmp_path / "mine.yaml"
    mine.write_text("samples: {higgs: {processes: {ttbar: {events: 0}}}}\nhiggs: {backgrounds: [higgs_ztautau]}\n")
    config = validate_config(merge_configs(read_yaml(ROOT / "config" / "config.yaml"), read_yaml(mine)))
    processes = generated_processes(config)
    assert "higgs_ttbar" not in processes and "higgs_ztautau" in processes


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"higgs": {"higgsml": "higgs_ztautau"}}, "'higgs.higgsml': 'higgs_ztautau' is not an `inputs` sample"),
        ({"pdf": {"closure": {"held_out": ["CHORUS_CC_NOTFIXED_PB_NU-SIGMARED"]}}}, "'pdf.closure.held_out'"),
        (
            {"toptag": {"predefined_split": {"train": ["a"], "val": ["b"], "test": ["c"]}}},
            "'toptag.predefined_split' names samples not in 'toptag.samples'",
        ),
        ({"susy": {"efficiency_grid": {"use_in_recast": True, "events": 0}}}, "use_in_recast' needs"),
    ],
)
def test_cross_key_checks_that_were_in_the_rule_files(override, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(override)


@pytest.mark.parametrize("tanb", [[0, 0], [-10, -1], [0, 30]])
def test_a_tanb_range_reaching_zero_is_refused(tanb):
    """tan beta <= 0 is outside the spectrum (beta = arctan(tan beta)): at 0 every point is unlabelled, below 0
    unphysical points would be labelled silently."""
    with pytest.raises(ConfigError, match=r"'susy.scan.ranges.tanb' = \[.*\]: tan beta must be positive"):
        validate_config({"susy": {"scan": {"ranges": {"tanb": tanb}}}})


def test_scan_ranges_that_label_nothing_are_refused_naming_tanb():
    """At tan beta 55-60 with light third-generation sleptons and a large mu, the stau mixing (m_tau mu tan beta)
    makes every stau tachyonic, so the recast could label no point; with the default tan beta range it labels some."""
    ranges = {"tanb": [55, 60], "mL3": [100, 200], "mE3": [100, 200], "mu": [3000, 4000]}
    with pytest.raises(ConfigError, match=r"'susy.scan.ranges' labels nothing") as error:
        validate_config({"susy": {"scan": {"ranges": ranges}}})
    assert "'susy.scan.ranges.tanb' = [55, 60]" in str(error.value)
    # the same tan beta with heavier sleptons labels points: the check is about what is labelled, not about tan beta
    validate_config({"susy": {"scan": {"ranges": {**ranges, "mL3": [1500, 2000], "mE3": [1500, 2000]}}}})


def test_scan_check_only_where_susy_runs():
    ranges = {"tanb": [55, 60], "mL3": [100, 200], "mE3": [100, 200], "mu": [3000, 4000]}
    validate_config({"tasks": ["pdf"], "susy": {"scan": {"ranges": ranges}}})


def test_device_cuda_without_a_gpu_is_refused_only_where_the_jobs_run(monkeypatch):
    import torch

    from ml4hep.devices import local_device_problems

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cuda = validate_config({"device": "cuda"})
    (problem,) = local_device_problems(cuda, local=True)
    assert problem.startswith("config key 'device' is 'cuda' but no GPU is visible") and "device: auto" in problem
    assert local_device_problems(cuda, local=False) == [], "on a cluster the GPU is on the nodes"
    assert local_device_problems(validate_config({"device": "auto"}), local=True) == []
