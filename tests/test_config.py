from __future__ import annotations

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
