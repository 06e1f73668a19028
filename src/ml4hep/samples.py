"""Sample-level operations: importing user files into the sample schema, and the sample summary table and plot."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ml4hep.errors import InputFileError
from ml4hep.io import EVENTS_TREE, RUN_TREE, read_tree, to_branches, write_root

log = logging.getLogger(__name__)

# Branches every sample of a set must have (what the tasks read); other branches are carried along.
REQUIRED_BRANCHES: dict[str, tuple[str, ...]] = {
    "higgs": (
        "lep_pt",
        "lep_eta",
        "lep_phi",
        "lep_charge",
        "tau_pt",
        "tau_eta",
        "tau_phi",
        "tau_m",
        "tau_charge",
        "jet_pt",
        "jet_eta",
        "jet_phi",
        "jet_m",
        "met",
        "met_phi",
        "met_sumet",
        "weight",
    ),
    "toptag": ("jet_pt", "jet_eta", "jet_phi", "jet_mass", "is_signal_new", "part_E", "part_px", "part_py", "part_pz"),
    "higgsml": ("PRI_tau_pt", "PRI_lep_pt", "PRI_met", "PRI_jet_num", "DER_mass_vis", "weight", "label"),
}


def check_branches(path: str, fields: Sequence[str], sample_set: str, tree: str = EVENTS_TREE) -> None:
    """Raise :class:`InputFileError` naming the branches of ``sample_set`` missing from ``fields``."""
    missing = [b for b in REQUIRED_BRANCHES[sample_set] if b not in fields]
    if missing:
        raise InputFileError(
            path,
            f"TTree '{tree}' lacks branch(es) {', '.join(missing)} needed by '{sample_set}' "
            "samples (map differently named branches with `branch_map` in the config)",
        )


ALLOWED_NON_FINITE = frozenset({"truth_ditau_mass"})
"""Branches where NaN has a meaning (no di-tau pair at generator level, e.g. ttbar)."""


def check_finite(path: str, events: ak.Array, branch_map: Mapping[str, str] | None = None) -> None:
    """Raise :class:`InputFileError` naming the first branch and entry that hold NaN or an infinity.

    Every numeric branch is checked once, here at import, so that no later step (FastJet, xgboost, JSON) meets a
    non-finite value; ``truth_ditau_mass`` may be NaN (no generator-level di-tau pair).
    """
    for field in events.fields:
        if field in ALLOWED_NON_FINITE:
            continue
        column = events[field]
        if not np.issubdtype(np.asarray(ak.ravel(column)).dtype, np.floating):
            continue
        bad = ~np.isfinite(column)
        per_entry = ak.to_numpy(ak.any(bad, axis=-1) if column.ndim > 1 else bad)
        if per_entry.any():
            entry = int(np.argmax(per_entry))
            values = ak.to_list(column[entry])
            value = next(v for v in (values if isinstance(values, list) else [values]) if not np.isfinite(v))
            name = (branch_map or {}).get(field, field)
            raise InputFileError(
                path,
                f"branch '{name}' holds {value!r} at entry {entry} ({int(per_entry.sum())} "
                "entries with NaN or infinite values)",
            )


def import_sample(entry: Mapping[str, Any], source: str, output: str | Path, max_constituents: int = 200) -> int:
    """Check a user-supplied file and write it in the sample schema to ``output``.

    Args:
        entry: The sample's ``inputs`` config entry (format, set, tree, branch_map).
        source: The file (local path or URL).
        output: The ROOT file to write.
        max_constituents: Constituents kept per jet for the TopLandscape format.

    Returns:
        Entries written.
    """
    from ml4hep import convert

    fmt = entry.get("format", "root")
    if fmt == "higgsml_csv":
        return int(convert.convert_higgsml_csv(source, output)["rows"])
    if fmt == "toplandscape_hdf5":
        return int(convert.convert_toplandscape_hdf5(source, output, max_constituents=max_constituents)["jets"])
    tree = entry.get("tree", EVENTS_TREE)
    events = read_tree(source, tree=tree, branch_map=entry.get("branch_map", {}))
    check_branches(source, events.fields, entry.get("set", "higgs"), tree)
    check_finite(source, events, entry.get("branch_map", {}))
    write_root(output, {EVENTS_TREE: to_branches(events)})
    log.info("imported %d entries from %s into %s", len(events), source, output)
    return len(events)


def summarize(samples: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """One summary row per sample: files, entries, cross section, sum of weights, size, generation time.

    Args:
        samples: Sample name -> its ROOT files.

    Returns:
        Rows (dictionaries) in the order of ``samples``.
    """
    import uproot

    rows = []
    for name, paths in samples.items():
        entries = 0
        sum_weights = 0.0
        sigma, events_generated, seconds = [], 0, 0.0
        for path in paths:
            with uproot.open(path) as file:
                tree = file[EVENTS_TREE]
                entries += tree.num_entries
                if "weight" in tree.keys():
                    sum_weights += float(np.sum(tree["weight"].array(library="np")))
                if RUN_TREE in file:
                    run = file[RUN_TREE].arrays(library="np")
                    sigma.append(float(run["sigma_pb"][0]))
                    events_generated += int(run["events_generated"][0])
                    seconds += float(run["seconds"][0])
        rows.append(
            {
                "sample": name,
                "files": len(paths),
                "events_generated": events_generated,
                "entries": entries,
                "sigma_pb": float(np.mean(sigma)) if sigma else float("nan"),
                "sum_weights": sum_weights,
                "size_mb": sum(os.path.getsize(p) for p in paths) / 1e6,
                "generation_seconds": seconds,
                "events_per_second": events_generated / seconds if seconds > 0 else float("nan"),
            }
        )
    return rows


def write_summary(rows: Sequence[Mapping[str, Any]], csv_path: str | Path, md_path: str | Path) -> None:
    """Write the summary rows as CSV and as a Markdown table."""
    import pandas as pd

    table = pd.DataFrame(list(rows))
    table.to_csv(csv_path, index=False)
    formats = {
        "sigma_pb": "{:.4g}",
        "sum_weights": "{:.4g}",
        "size_mb": "{:.2f}",
        "generation_seconds": "{:.1f}",
        "events_per_second": "{:.1f}",
    }
    shown = table.copy()
    for column, fmt in formats.items():
        shown[column] = [fmt.format(v) for v in shown[column]]
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    Path(md_path).write_text("# Samples\n\n" + "\n".join([header, rule, *lines]) + "\n")
