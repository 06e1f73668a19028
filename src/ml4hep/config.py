"""Configuration: schema validation with defaults, and seed derivation.

The workflow's `Snakefile` calls :func:`validate_config` before any job is scheduled, so a typo'd key or a wrong type
stops the run with one message naming the key.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ml4hep.errors import ConfigError
from ml4hep.generate.processes import generated_processes
from ml4hep.seeds import PYTHIA_MAX_SEED, derive_seed  # noqa: F401 - re-exported: the workflow derives seeds here

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"
DEFAULT_CONFIG_PATH = SCHEMA_PATH.with_name("config.yaml")
"""The workflow's embedded default config (the Snakefile's ``configfile``)."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """Read the JSON schema (written in YAML).

    Args:
        path: Schema file.

    Returns:
        The schema as a dictionary.
    """
    resolved = Path(path).resolve()
    return copy.deepcopy(_parsed_yaml(resolved, resolved.stat().st_mtime_ns))


SAFE_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""``yaml.safe_load``'s loader, through libyaml where PyYAML has it: it reads the 1000-line schema 10x faster."""


@functools.cache
def _parsed_yaml(path: Path, mtime_ns: int) -> Any:
    # Every snakemake call reads the schema twice (the workflow's check and the defaults): once is enough.
    with open(path) as stream:
        return yaml.load(stream, Loader=SAFE_YAML_LOADER)


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


def invalid(problems: list[str]) -> ConfigError:
    """One error line for every problem of a config (``; `` between several).

    Example:
        >>> str(invalid(["config key 'seed': -3 is less than the minimum of 0"]))
        "invalid configuration: config key 'seed': -3 is less than the minimum of 0"
    """
    count = f" ({len(problems)} problems)" if len(problems) > 1 else ""
    return ConfigError(f"invalid configuration{count}: " + "; ".join(problems))


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
        raise invalid([_describe(e) for e in errors])
    problems = consistency_problems(config, schema)
    if problems:
        raise invalid(problems)
    return config


SPLIT_KEYS = ("higgs.split", "toptag.split", "susy.split")
"""Config sections of train/val/test fractions."""


def _section(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node[part]
    return node


def consistency_problems(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> list[str]:
    """What the schema cannot check: conditions that span several keys, one line each, naming the keys.

    Run at start-up (by :func:`validate_config`), so that a config that would fail after an hour of generation is
    rejected before the first job.

    Args:
        config: A schema-valid config with its defaults filled in.
        schema: The schema it was validated with (read from ``config/schema.yaml`` when needed and omitted).

    Returns:
        One message per problem (empty: consistent).
    """
    problems = []
    for key in SPLIT_KEYS:
        fractions = _section(config, key)
        total = sum(float(v) for v in fractions.values())
        if abs(total - 1.0) > 1e-9:
            listed = ", ".join(f"{name} {value:g}" for name, value in fractions.items())
            problems.append(f"config key '{key}': the fractions must sum to 1 ({listed} sum to {total:g})")
    tasks = set(config["tasks"])
    heavy = config["samples"]["higgs"]["heavy_higgs"]["masses_gev"]
    if "higgs" in tasks and config["higgs"]["higgsml"] is None:
        left_out = float(config["higgs"]["parameterised"]["left_out_mass"])
        if not heavy:
            problems.append(
                "config key 'samples.higgs.heavy_higgs.masses_gev' is empty: the parameterised network "
                "and the heavy-Higgs limits need at least 3 masses"
            )
        elif not any(abs(left_out - m) < 1e-9 for m in heavy):
            problems.append(
                f"config key 'higgs.parameterised.left_out_mass' = {left_out:g} GeV is not one of "
                f"'samples.higgs.heavy_higgs.masses_gev' {sorted(heavy)}"
            )
        elif len(heavy) < 3:
            problems.append(
                f"config key 'samples.higgs.heavy_higgs.masses_gev' = {sorted(heavy)}: leaving "
                f"{left_out:g} GeV out leaves fewer than 2 masses to train the parameterised network on"
            )
    if {"susy", "susy_active"} & set(tasks):  # the active learning samples its pool in the scan's ranges too
        problems += scan_problems(config, schema)
    active = config["susy_active"]
    if "susy_active" in tasks and active["initial"] + active["rounds"] * active["batch"] > active["pool"]:
        problems.append(
            f"config key 'susy_active': initial + rounds x batch = "
            f"{active['initial'] + active['rounds'] * active['batch']} labels exceed the {active['pool']} pool points"
        )
    samples = {*generated_processes(config), *config["inputs"]}
    uses = [("higgs.signal", "higgs"), ("higgs.backgrounds", "higgs"), ("toptag.samples", "toptag")]
    for key, task in uses:
        if task in tasks and not (task == "higgs" and config["higgs"]["higgsml"] is not None):
            for name in _section(config, key):
                if name not in samples:
                    problems.append(
                        f"config key '{key}' names {name!r}, which is neither generated (events > 0) "
                        f"nor in 'inputs' (samples: {', '.join(sorted(samples))})"
                    )
    higgsml = config["higgs"]["higgsml"]
    if higgsml is not None and config["inputs"].get(higgsml, {}).get("set") != "higgsml":
        listed = sorted(n for n, e in config["inputs"].items() if e.get("set") == "higgsml")
        problems.append(
            f"config key 'higgs.higgsml': {higgsml!r} is not an `inputs` sample with `set: higgsml` "
            f"(inputs of that set: {listed})"
        )
    pdf = config["pdf"]
    for name in pdf["closure"]["held_out"]:
        if name not in pdf["datasets"]:
            problems.append(f"config key 'pdf.closure.held_out': {name!r} is not in 'pdf.datasets'")
    predefined = config["toptag"]["predefined_split"]
    if predefined:
        unknown = sorted({s for names in predefined.values() for s in names} - set(config["toptag"]["samples"]))
        if unknown:
            problems.append(f"config key 'toptag.predefined_split' names samples not in 'toptag.samples': {unknown}")
    grid = config["susy"]["efficiency_grid"]
    if grid["use_in_recast"] and grid["events"] == 0:
        problems.append("config key 'susy.efficiency_grid.use_in_recast' needs susy.efficiency_grid.events > 0")
    for name, entry in config["inputs"].items():
        seen: dict[str, str] = {}
        for file in entry["files"]:
            identity = str(file) if "://" in str(file) else str(Path(file).resolve())
            if identity in seen:
                problems.append(
                    f"config key 'inputs.{name}.files' lists {file!r} twice"
                    + (f" (also as {seen[identity]!r})" if seen[identity] != file else "")
                    + ": its events would count twice"
                )
            seen.setdefault(identity, file)
    return problems


LABEL_PROBE_POINTS = 4000
"""Points drawn at start-up from configured ``susy.scan.ranges`` to check that some can be labelled (~0.1 s)."""


def scan_problems(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> list[str]:
    """Problems of ``susy.scan.ranges``: a reversed range, a tan β range reaching 0, or ranges that label nothing.

    The recast labels only points whose lightest sparticle is the lightest neutralino and whose sfermions are not
    tachyonic (:func:`ml4hep.susy.recast.label_points`); every other point is "not labelled". Ranges that differ from
    the schema's defaults (which label about 17 %) are probed with :data:`LABEL_PROBE_POINTS` seeded points, and
    a range that labels none of them is rejected, naming the ranges that are to blame (those whose default range
    would label some).

    Args:
        config: A schema-valid config with its defaults filled in.
        schema: The schema (for the default ranges; read when omitted).

    Returns:
        One message per problem.
    """
    ranges = {name: [float(v) for v in pair] for name, pair in config["susy"]["scan"]["ranges"].items()}
    problems = [
        f"config key 'susy.scan.ranges.{name}' = [{low:g}, {high:g}] is reversed (low > high)"
        for name, (low, high) in ranges.items()
        if low > high
    ]
    if min(ranges["tanb"]) <= 0:
        problems.append(
            f"config key 'susy.scan.ranges.tanb' = [{ranges['tanb'][0]:g}, {ranges['tanb'][1]:g}]: tan beta must be "
            "positive (the spectrum takes beta = arctan(tan beta) in (0, pi/2); at 0 every sfermion mass is undefined)"
        )
    defaults = {name: [float(v) for v in pair] for name, pair in _schema_scan_ranges(schema).items()}
    if problems or ranges == defaults:
        return problems
    seed = derive_seed(config["seed"], "susy", "scan-check")
    if _labelled_fraction(ranges, seed) > 0:
        return []
    changed = [name for name in ranges if ranges[name] != defaults[name]]
    blamed = [name for name in changed if _labelled_fraction({**ranges, name: defaults[name]}, seed) > 0]
    keys = ", ".join(f"'susy.scan.ranges.{name}' = [{ranges[name][0]:g}, {ranges[name][1]:g}]" for name in blamed)
    because = f"; some are labelled when any one of these takes its default range: {keys}" if blamed else ""
    return [
        f"config key 'susy.scan.ranges' labels nothing: none of {LABEL_PROBE_POINTS} points drawn from these ranges "
        f"has a neutralino LSP without a tachyonic sfermion, the only points the recast labels{because}"
    ]


def _schema_scan_ranges(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The schema's default ``susy.scan.ranges`` (read here, not through :func:`default_config`, which validates)."""
    ranges = (_packaged_schema() if schema is None else schema)["properties"]["susy"]["properties"]["scan"][
        "properties"
    ]["ranges"]
    return {name: entry["default"] for name, entry in ranges["properties"].items()}


@functools.cache
def _packaged_schema() -> dict[str, Any]:
    return load_schema()


def _labelled_fraction(ranges: Mapping[str, Sequence[float]], seed: int) -> float:
    """Fraction of seeded points in ``ranges`` that the recast would label."""
    import numpy as np

    # Imported by name, not by an import statement: the rules' code inputs (ml4hep.workflow_code) follow import
    # statements, and no job runs this start-up check, so an edit of the spectrum must not rerun every job that
    # imports this module. (ml4hep.susy.scan also takes its defaults from here.)
    sample_points = importlib.import_module("ml4hep.susy.scan").sample_points
    spectrum = importlib.import_module("ml4hep.susy.spectrum").spectrum
    # A few points settle the usual case (ranges that label plenty) at every start-up; the full probe runs only
    # when they find nothing.
    for points in (LABEL_PROBE_POINTS // 16, LABEL_PROBE_POINTS):
        with np.errstate(all="ignore"):
            lsp = spectrum(sample_points(points, seed, ranges))["lsp"]
        if np.any(lsp == 0):
            break
    return float(np.mean(lsp == 0))


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML config file as a mapping; a missing file or a syntax error is one line naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        with open(path) as stream:
            config = yaml.safe_load(stream) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"config file {path}{where}: YAML syntax error: {problem}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping of keys")
    return config


def merge_configs(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base`` as Snakemake merges ``--configfile`` files.

    Mappings are merged key by key, recursively; every other value (lists included) is replaced.

    Example:
        >>> merge_configs({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}})
        {'a': {'b': 1, 'c': [2]}}
    """
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_configs(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(path: str | Path, base: str | Path | None = None) -> dict[str, Any]:
    """Read a YAML config file and validate it (defaults filled in).

    Args:
        path: Config file.
        base: A config the file is merged over first (the workflow's ``config/config.yaml``), as Snakemake does.

    Returns:
        The validated configuration.
    """
    config = read_yaml(path)
    if base is not None:
        config = merge_configs(read_yaml(base), config)
    return validate_config(config)


def section(dotted: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One config section (e.g. ``higgs.regression``): ``values`` over the schema's defaults, checked by the schema.

    Library functions called without the workflow take their defaults and their checks from here, so that the
    schema stays the only place where both are written.

    Args:
        dotted: The section's key, dot-separated.
        values: The caller's keys (None: all defaults).

    Raises:
        ConfigError: A key is unknown or a value invalid (named as ``dotted.key``).

    Example:
        >>> section("higgs.regression", {"epochs": 5})["epochs"], section("higgs.regression")["target"]
        (5, 'log')
    """
    root = load_schema()
    node: Mapping[str, Any] = root
    for part in dotted.split("."):
        node = _resolve(_resolve(node, root)["properties"][part], root)
    schema = {"$defs": root.get("$defs", {}), **node}
    instance = copy.deepcopy(dict(values or {}))
    _fill_defaults(instance, schema, schema)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if errors:
        lines = [
            _describe(e).replace("config key '", f"config key '{dotted}.", 1).replace(f"{dotted}.<top>", dotted)
            for e in errors
        ]
        raise invalid(lines)
    return instance


@functools.cache
def _defaults() -> str:
    return json.dumps(validate_config({}))


def default_config() -> dict[str, Any]:
    """The schema's defaults as a full config (a fresh copy): library code takes its defaults from here.

    Example:
        >>> default_config()["toptag"]["split"]
        {'train': 0.6, 'val': 0.2, 'test': 0.2}
    """
    return json.loads(_defaults())


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the resolved config (key order independent)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
