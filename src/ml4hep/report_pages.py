"""HTML pages of the run's resolved config and provenance, for the Snakemake report.

The report (``snakemake --report``) shows HTML results in place but only offers JSON for download, so the two
records that say how the numbers were made get a page each: the resolved config (validated, every default filled
in) as YAML, and ``results/provenance.json`` as tables (run, packages, training jobs, rule times) followed by the
full record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

import yaml

_STYLE = (
    "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:1em}"
    "th,td{border:1px solid #bbb;padding:0.2em 0.6em;text-align:left}th{background:#eee}"
    "pre{background:#f6f6f6;padding:0.5em}"
)


def _page(title: str, body: list[str]) -> str:
    head = f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{escape(title)}</title>'
    return "\n".join(
        [f"{head}<style>{_STYLE}</style></head><body>", f"<h1>{escape(title)}</h1>", *body, "</body></html>"]
    )


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["<table>", "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>"]
    lines += ["<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows]
    return "\n".join([*lines, "</table>"])


def config_page(config: Mapping[str, Any]) -> str:
    """The resolved config as a YAML listing (the file a user passes with ``--configfile`` reproduces the run).

    Example:
        >>> "seed: 7" in config_page({"seed": 7})
        True
    """
    text = yaml.safe_dump(json.loads(json.dumps(config)), sort_keys=False, allow_unicode=True)
    return _page("Resolved config", [f"<pre>{escape(text)}</pre>"])


def provenance_page(record: Mapping[str, Any]) -> str:
    """The provenance record: the run's identity, package versions, training jobs and rule times, then all of it."""
    git = record.get("git") or {}
    run = [
        ("config hash", record.get("config_hash")),
        ("git commit", git.get("commit")),
        ("git dirty", git.get("dirty")),
        ("date", record.get("date")),
        ("seed", record.get("seed")),
        ("python", record.get("python")),
        ("platform", record.get("platform")),
    ]
    packages = sorted((record.get("packages") or {}).items())
    training = [
        (job, info.get("device"), info.get("seed")) for job, info in sorted((record.get("training") or {}).items())
    ]
    times = [
        (rule, t.get("jobs"), f"{t.get('seconds') or 0.0:.1f}") for rule, t in (record.get("rule_times") or {}).items()
    ]
    body = [
        "<h2>Run</h2>",
        _table(("quantity", "value"), run),
        "<h2>Packages</h2>",
        _table(("package", "version"), packages),
        "<h2>Training jobs</h2>",
        _table(("job", "device", "seed"), training),
        "<h2>Rule times</h2>",
        _table(("rule", "jobs", "seconds"), times),
        "<h2>The full record (results/provenance.json)</h2>",
        f"<pre>{escape(json.dumps(record, indent=2))}</pre>",
    ]
    return _page("Provenance", body)


def write_pages(record: Mapping[str, Any], config_path: str | Path, provenance_path: str | Path) -> None:
    """Write the config page and the provenance page of a provenance record."""
    Path(config_path).write_text(config_page(record["config"]))
    Path(provenance_path).write_text(provenance_page(record))
