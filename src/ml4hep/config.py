"""Configuration: schema validation with defaults, and seed derivation.

The workflow's `Snakefile` calls :func:`validate_config` before any job is scheduled, so a typo'd key or a wrong type
stops the run with one message naming the key.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ml4hep.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"

# Pythia accepts seeds in [0, 900000000]; 0 means "seed from the clock", which would break reproducibility.
PYTHIA_MAX_SEED = 900_000_000


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """Read the JSON schema (written in YAML).

    Args:
        path: Schema file.

    Returns:
        The schema as a dictionary.
    """
    with open(path) as stream:
        return yaml.safe_load(stream)


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow local ``$ref`` pointers (``#/$defs/name``), keeping the referring node's own keys."""
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref pointers are supported, got {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _fill_defaults(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> None:
    """Insert the schema's defaults into ``instance`` in place, recursing into objects."""
    if not isinstance(instance, dict):
        return
    schema = _resolve(schema, root)
    properties = schema.get("properties", {})
    for key, subschema in properties.items():
        subschema = _resolve(subschema, root)
        if key not in instance and "default" in subschema:
            instance[key] = copy.deepcopy(subschema["default"])
        if key in instance:
            _fill_defaults(instance[key], subschema, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        for key, value in instance.items():
            if key not in properties:
                _fill_defaults(value, extra, root)


def _describe(error: jsonschema.ValidationError) -> str:
    """One line naming the offending key for a schema violation."""
    location = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        keys = ", ".join(repr(f"{location}.{k}" if location else k) for k in unknown)
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown config key {keys}{hint}"
    if error.validator == "propertyNames":
        return f"config key {location or '<top>'}: invalid name {error.instance!r} ({error.message})"
    return f"config key '{location or '<top>'}': {error.message}"


def validate_config(config: dict[str, Any], schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Fill defaults into ``config`` (in place) and validate it.

    Args:
        config: The configuration dictionary (e.g. Snakemake's ``config``).
        schema: The schema; read from ``config/schema.yaml`` when omitted.

    Returns:
        The same dictionary, with every default filled in.

    Raises:
        ConfigError: naming every offending key.
    """
    schema = load_schema() if schema is None else schema
    _fill_defaults(config, schema, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(_describe(e) for e in errors))
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it (defaults filled in).

    Args:
        path: Config file.

    Returns:
        The validated configuration.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    with open(path) as stream:
        config = yaml.safe_load(stream) or {}
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping of keys")
    return validate_config(config)


def derive_seed(master: int, *keys: object, maximum: int = PYTHIA_MAX_SEED) -> int:
    """A reproducible seed in ``[1, maximum]`` for one random step, from the master seed and the step's keys.

    Args:
        master: The config's master seed.
        *keys: What identifies the step (e.g. process name and shard index).
        maximum: Largest seed the consumer accepts.

    Returns:
        A seed that changes when any key changes and is the same on every machine.
    """
    text = json.dumps([int(master), *[str(k) for k in keys]])
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little") % maximum + 1


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the resolved config (key order independent)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
