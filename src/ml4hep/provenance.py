"""Provenance of a workflow run: what produced the results, so that a colleague can reproduce or audit them.

``results/provenance.json`` holds the resolved config and its hash, the git commit of the workflow (and whether the
tree had uncommitted changes), the date (UTC) and machine of the run, the versions of the key packages, the master
seed and the seed and device of every training job (read from the jobs' info files), and the wall time of every job
(from Snakemake's ``benchmark:`` files).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import re
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.config import config_hash

KEY_PACKAGES = (
    "ml4hep",
    "snakemake",
    "uproot",
    "awkward",
    "vector",
    "numpy",
    "fastjet",
    "pythia8mc",
    "torch",
    "xgboost",
    "scikit-learn",
    "pyhf",
    "mplhep",
    "hist",
    "nnpdf-data",
    "eko",
    "yadism",
    "pyslha",
    "onnxruntime",
)


def package_versions(names: Sequence[str] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(folder: str | Path) -> dict[str, Any]:
    """The commit checked out in ``folder`` and whether tracked files differ from it (None outside a git tree)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if changes is None else bool(changes)}


def job_times(benchmark_folder: str | Path) -> dict[str, dict[str, float]]:
    """Wall time and peak memory of every job from its ``benchmark:`` file (job = path below the folder).

    Returns:
        Job name (e.g. ``higgs/train_bdt``) -> ``seconds`` and ``max_rss_mb``, sorted by name.
    """
    folder = Path(benchmark_folder)
    times = {}
    for path in sorted(folder.rglob("*.tsv")):
        with open(path, newline="") as stream:
            rows = list(csv.DictReader(stream, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]

        def value(key: str, row: Mapping[str, str] = row) -> float | None:
            try:
                return float(row[key])
            except (KeyError, TypeError, ValueError):
                return None

        times[str(path.relative_to(folder).with_suffix(""))] = {"seconds": value("s"), "max_rss_mb": value("max_rss")}
    return times


def rule_times(job_seconds: Mapping[str, Mapping[str, float | None]]) -> dict[str, dict[str, float]]:
    """Jobs grouped by rule family: job count and total seconds, slowest first.

    The family is the benchmark path without its wildcard values: the first folder when the path has wildcard
    folders (``generate_sample/higgs_ztautau/0`` -> ``generate_sample``), else the path with its numbers dropped
    (``susy/label_3`` -> ``susy/label``, ``pdf/replica_fit0_2`` -> ``pdf/replica_fit``; digits inside names such as
    ``HERA_NC_318GEV`` are kept).
    """
    totals: dict[str, dict[str, float]] = {}
    for job, entry in job_seconds.items():
        family = job.split("/")[0] if job.count("/") > 1 else re.sub(r"_\d+(?=_|$)|(?<=fit)\d+", "", job)
        total = totals.setdefault(family, {"jobs": 0, "seconds": 0.0})
        total["jobs"] += 1
        total["seconds"] += entry["seconds"] or 0.0
    return dict(sorted(totals.items(), key=lambda item: -item[1]["seconds"]))


def training_jobs(info_files: Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """Device and seed of each training job, from its info JSON or its ``.npz`` output (arrays ``device``, ``seed``).

    Returns:
        The file's path below ``results/`` without suffix and ``_info`` (e.g. ``higgs/models/bdt``) -> ``device``,
        ``seed``.
    """
    jobs = {}
    for path in map(Path, info_files):
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                info = {key: arrays[key].item() for key in ("device", "seed") if key in arrays.files}
        else:
            info = json.loads(path.read_text())
        parts = path.with_name(path.stem.removesuffix("_info")).parts
        name = "/".join(parts[parts.index("results") + 1 :] if "results" in parts else parts)
        jobs[name] = {"device": info.get("device"), "seed": info.get("seed")}
    return jobs


def collect_provenance(
    config: Mapping[str, Any],
    workflow_folder: str | Path,
    info_files: Sequence[str | Path],
    benchmark_folder: str | Path,
) -> dict[str, Any]:
    """Everything ``results/provenance.json`` records.

    Args:
        config: The resolved (validated, defaults filled) config of the run.
        workflow_folder: The workflow's folder (for the git commit).
        info_files: Info JSON (or ``.npz``) files of the training jobs (each with ``device`` and ``seed``).
        benchmark_folder: Folder of the ``benchmark:`` files.

    Returns:
        The provenance record.
    """
    jobs = job_times(benchmark_folder)
    return {
        "config": dict(config),
        "config_hash": config_hash(config),
        "git": git_state(workflow_folder),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"hostname": platform.node(), "processor": platform.machine(), "cpus": os.cpu_count()},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "seed": config["seed"],
        "training": training_jobs(info_files),
        "job_times": jobs,
        "rule_times": rule_times(jobs),
    }
