"""Generated documentation pages: the configuration reference and the results of a finished run.

Both pages are computed from the project's own files, so that they cannot drift from them:

- :func:`config_reference` turns ``config/schema.yaml`` into one table row per key (type, default, description).
  The docs build inserts it into ``docs/configuration.md`` (``docs/hooks.py``).
- :func:`results_page` reads a finished run's ``results/*/metrics.json`` and ``results/provenance.json`` and
  writes ``docs/results.md``: ``python -m ml4hep.docs results`` after a run.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml4hep.config import SCHEMA_PATH, _resolve, load_schema

CONFIG_MARKER = "<!-- config-reference -->"
"""The line of ``docs/configuration.md`` that the docs build replaces by :func:`config_reference`."""

CONSTRAINTS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minLength",
    "pattern",
    "uniqueItems",
    "minProperties",
)


def schema_keys(schema: Mapping[str, Any] | None = None) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every key of the config schema with its (resolved) sub-schema, depth first in the schema's order.

    Nested keys are dotted (``samples.higgs.ecm_gev``); the entries of a mapping with free names (e.g. ``inputs``) go
    under ``<name>`` (``inputs.<name>.files``).

    Args:
        schema: The schema (default: ``config/schema.yaml``).

    Yields:
        (dotted key, resolved schema of the key).
    """
    root = load_schema() if schema is None else schema

    def walk(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for name, child in node.get("properties", {}).items():
            resolved = _resolve(child, root)
            key = f"{prefix}{name}"
            yield key, resolved
            yield from walk(resolved, f"{key}.")
            free = resolved.get("additionalProperties")
            if isinstance(free, Mapping) and free:
                free = _resolve(free, root)
                if "properties" in free:
                    yield from walk(free, f"{key}.<name>.")

    yield from walk(_resolve(root, root), "")


def _type(node: Mapping[str, Any], root: Mapping[str, Any]) -> str:
    """The type of a key as one short text: the JSON type(s) or allowed values, and the constraints."""
    if "enum" in node:
        text = "one of " + ", ".join(f"`{json.dumps(value)}`" for value in node["enum"])
    elif "const" in node:
        text = f"`{json.dumps(node['const'])}`"
    else:
        kind = node.get("type", "any")
        text = " or ".join(kind) if isinstance(kind, list) else str(kind)
        items = node.get("items")
        if text == "array" and isinstance(items, Mapping):
            text = f"array of {_type(_resolve(items, root), root)}"
    limits = [f"{name} `{json.dumps(node[name])}`" for name in CONSTRAINTS if name in node]
    return text + (f" ({', '.join(limits)})" if limits else "")


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (one line, no unescaped pipes)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def config_reference(schema_path: str | Path = SCHEMA_PATH) -> str:
    """The configuration reference: the top-level settings in one table, then one table per section.

    Args:
        schema_path: The JSON schema in YAML.

    Returns:
        Markdown: a key/type/default/description table of the top-level settings, then for every top-level object
        (``samples``, ``higgs``, ...) a heading, its description and a table of every key below it.
    """
    schema = load_schema(schema_path)
    header = ["| key | type | default | description |", "|---|---|---|---|"]
    top: list[str] = []
    sections: list[str] = []
    for key, node in schema_keys(schema):
        default = f"`{json.dumps(node['default'], ensure_ascii=False)}`" if "default" in node else "–"
        if len(default) > 100:
            default = "(long: see `config/schema.yaml`)"
        row = f"| `{key}` | {_cell(_type(node, schema))} | {_cell(default)} | {_cell(node.get('description', ''))} |"
        if "." in key:
            sections.append(row)
        elif "properties" in node or isinstance(node.get("additionalProperties"), Mapping):
            sections += ["", f"### `{key}`", "", _cell(node.get("description", "")), "", *header]
        else:
            top.append(row)
    return "\n".join(["### Top-level settings", "", *header, *top, *sections]) + "\n"


TASKS = ("higgs", "toptag", "pdf", "susy", "susy_active", "sbi")
NO_RUN = """\
No finished run was found when this page was written. Make it with

```bash
.venv/bin/snakemake --cores all
.venv/bin/python -m ml4hep.docs results
```

The second command reads `results/*/metrics.json` and `results/provenance.json` and rewrites this page with the
headline metrics of every task, the commit, date and machine of the run and the time its jobs took.
"""


def _provenance_lines(provenance: Mapping[str, Any], provenance_path: Path) -> list[str]:
    """The run's commit, date, machine, packages and job times as a short list and table."""
    git = provenance.get("git") or {}
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    date = provenance.get("date")
    if not date:
        modified = datetime.fromtimestamp(provenance_path.stat().st_mtime, UTC)
        date = f"{modified.isoformat(timespec='seconds')} (file time)"
    machine = provenance.get("machine") or {}
    machine_text = ", ".join(
        str(part)
        for part in (
            machine.get("hostname"),
            machine.get("processor"),
            machine.get("cpus") and f"{machine['cpus']} CPUs",
        )
        if part
    )
    machine_text = "; ".join(part for part in (machine_text, provenance.get("platform")) if part) or "unknown"
    devices = sorted({str(job.get("device")) for job in (provenance.get("training") or {}).values()})
    packages = provenance.get("packages") or {}
    lines = [
        "## The run",
        "",
        f"- commit: `{commit}`",
        f"- date: {date}",
        f"- machine: {machine_text}",
        f"- training devices: {', '.join(devices) or '–'}",
        f"- config hash: `{provenance.get('config_hash', '–')}`, master seed {provenance.get('seed', '–')}",
        "- packages: " + ", ".join(f"{name} {version}" for name, version in packages.items() if version),
        "",
    ]
    rules = provenance.get("rule_times") or {}
    if rules:
        total = sum(entry.get("seconds") or 0.0 for entry in rules.values())
        jobs = sum(int(entry.get("jobs") or 0) for entry in rules.values())
        lines += [
            "## Job times",
            "",
            f"{jobs} jobs, {total / 60:.1f} min summed over jobs (wall time of the run is shorter where jobs "
            "ran in parallel). The ten slowest rule families:",
            "",
            "| rule | jobs | seconds |",
            "|---|---|---|",
        ]
        for rule, entry in list(rules.items())[:10]:
            lines.append(f"| `{rule}` | {entry.get('jobs')} | {entry.get('seconds') or 0.0:.1f} |")
        lines.append("")
    return lines


def results_page(results: str | Path = "results", tasks: Sequence[str] = TASKS) -> str:
    """``docs/results.md``: the headline metrics of each task of a finished run, with the run's provenance.

    Args:
        results: The run's ``results/`` folder.
        tasks: Tasks to show, in this order (those without a ``metrics.json`` are left out).

    Returns:
        Markdown; when the folder has no ``metrics.json`` at all, a page that says how to make the run.
    """
    from ml4hep.combine import SECTIONS, TASK_TITLES
    from ml4hep.tables import markdown_lines

    folder = Path(results)
    found = {task: folder / task / "metrics.json" for task in tasks if (folder / task / "metrics.json").is_file()}
    lines = [
        "# Results",
        "",
        "Generated by `python -m ml4hep.docs results` from a finished run: every number below was computed by",
        "that run (test splits; definitions on the task pages). Do not edit by hand.",
        "",
    ]
    if not found:
        return "\n".join([*lines, NO_RUN])
    provenance_path = folder / "provenance.json"
    if provenance_path.is_file():
        lines += _provenance_lines(json.loads(provenance_path.read_text()), provenance_path)
    else:
        lines += [
            "The run has no `results/provenance.json` (its `provenance` rule did not run), so commit, date and "
            "machine are unknown.",
            "",
        ]
    for task, path in found.items():
        rows, columns, note = SECTIONS[task](json.loads(path.read_text()))
        lines += [f"## {TASK_TITLES.get(task, task)}", "", *markdown_lines(rows, columns, note), ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m ml4hep.docs results|config [--results DIR] [--out FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m ml4hep.docs", description=__doc__.splitlines()[0])
    parser.add_argument("page", choices=["results", "config"], help="the page to write")
    parser.add_argument("--results", default="results", help="the finished run's results folder (default: results)")
    parser.add_argument("--out", help="output file (default: docs/results.md; the config reference to stdout)")
    args = parser.parse_args(argv)
    if args.page == "results":
        text = results_page(args.results)
        out = Path(args.out or "docs/results.md")
    else:
        text = config_reference()
        if not args.out:
            print(text, end="")
            return 0
        out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {os.fspath(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
