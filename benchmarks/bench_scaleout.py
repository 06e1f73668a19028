"""Scale-out shape of the workflow: wall time of the sample stage on 1 vs 2 cores, and job count vs events.

What is measured (tiny config, config/test.yaml, in a scratch copy of the workflow so results/ is not touched):

(a) The sample stage (every ``generate_sample`` shard plus ``sample_summary``) run locally by Snakemake with
    ``--cores 1`` and, in a fresh copy, with ``--cores 2``. The ratio ``t(1) / t(2)`` is the local speed-up from
    running shards side by side; 2 is the ideal on two cores (shards are independent jobs), less means a serial
    part (the summary, Snakemake's own start-up and scheduling) or other load on the machine (recorded).
(b) Job counts from ``snakemake -n`` when the work is multiplied by 1, 2, 4, 8: the events of every generated
    process (``events_per_shard`` fixed), the PDF replicas, and the SUSY scan points with its shards. The sharded
    rules' jobs should grow linearly (a cluster run gets wider, not longer), the analysis jobs after them should
    not.

Usage::

    python benchmarks/bench_scaleout.py [--factors 1 2 4 8] [--skip-timing]
                                        [--output results/benchmarks/scaleout.json]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from timing import versions, write_report  # benchmarks/timing.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# Rules whose job count comes from the config (events / events_per_shard, pdf.replicas, susy.scan.shards).
SHARDED_RULES = ("generate_sample", "pdf_replica", "susy_scan", "susy_label")
WORKFLOW_PARTS = ("Snakefile", "workflow", "scripts", "config", "profiles", "src", "envs")


def copy_workflow(destination: Path) -> Path:
    """A scratch copy of what a run needs (its results/ stay there)."""
    destination.mkdir(parents=True)
    for part in WORKFLOW_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, destination / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / part)
    return destination


def snakemake(workdir: Path, *args: str) -> str:
    """Run snakemake in ``workdir``; its output, or an error with the tail of it."""
    result = subprocess.run(
        [*SNAKEMAKE, *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}")
    return result.stdout


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Rule -> number of jobs, from the ``Job stats`` table of a dry run."""
    table = dry_run_output.split("Job stats:", 1)[1]
    counts = {}
    for line in table.splitlines()[3:]:
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    return counts


def scaled_workload(config: dict[str, Any], factor: int) -> dict[str, Any]:
    """Config overrides multiplying the work by ``factor``: the events of every generated process, the number of
    PDF replicas, and the SUSY scan's points and shards (where the config has those sections)."""
    samples = copy.deepcopy(config["samples"])
    for sample_set in samples.values():
        for process in sample_set.get("processes", {}).values():
            process["events"] = int(process["events"]) * factor
        if "heavy_higgs" in sample_set:
            sample_set["heavy_higgs"]["events"] = int(sample_set["heavy_higgs"]["events"]) * factor
    override: dict[str, Any] = {"samples": samples}
    if "replicas" in config.get("pdf", {}):
        override["pdf"] = {**config["pdf"], "replicas": int(config["pdf"]["replicas"]) * factor}
    scan = config.get("susy", {}).get("scan", {})
    if "points" in scan and "shards" in scan:
        override["susy"] = {
            **config["susy"],
            "scan": {**scan, "points": int(scan["points"]) * factor, "shards": int(scan["shards"]) * factor},
        }
    return override


def time_sample_stage(base: Path, cores: int) -> dict[str, Any]:
    """Wall time of the sample stage of the tiny config with ``cores`` cores, in a fresh copy."""
    workdir = copy_workflow(base / f"cores{cores}")
    load_before = os.getloadavg()
    start = time.perf_counter()
    snakemake(workdir, "sample_summary", "--cores", str(cores), "--configfile", "config/test.yaml")
    seconds = time.perf_counter() - start
    shards = len(list((workdir / "results" / "samples").rglob("*.root")))
    return {
        "cores": cores,
        "seconds": seconds,
        "shards": shards,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--skip-timing", action="store_true", help="only the job counts (seconds, no generation)")
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "benchmarks" / "scaleout.json")
    args = parser.parse_args()

    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    report: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": versions(["snakemake", "pythia8mc", "fastjet", "uproot"]),
        "config": "config/test.yaml",
        "events_per_shard": config["events_per_shard"],
    }
    with tempfile.TemporaryDirectory(prefix="ml4hep-scaleout-") as scratch:
        base = Path(scratch)
        dry = copy_workflow(base / "dry")
        counts = []
        for factor in args.factors:
            override = dry / "config" / f"scaled{factor}.yaml"
            override.write_text(yaml.safe_dump(scaled_workload(config, factor)))
            jobs = job_counts(snakemake(dry, "-n", "--configfile", "config/test.yaml", str(override.relative_to(dry))))
            counts.append(
                {
                    "workload_factor": factor,
                    **{rule: jobs.get(rule, 0) for rule in SHARDED_RULES},
                    "total": jobs.get("total", 0),
                    "per_rule": jobs,
                }
            )
            sharded = ", ".join(f"{rule} {jobs.get(rule, 0)}" for rule in SHARDED_RULES)
            print(f"workload x{factor}: {sharded}; {counts[-1]['total']} jobs in all")
        report["job_counts"] = counts
        first = counts[0]
        report["sample_jobs_relative"] = [c["generate_sample"] / first["generate_sample"] for c in counts]
        report["other_jobs"] = [c["total"] - sum(c[rule] for rule in SHARDED_RULES) for c in counts]

        if not args.skip_timing:
            one, two = time_sample_stage(base, 1), time_sample_stage(base, 2)
            report["sample_stage"] = {
                "cores_1": one,
                "cores_2": two,
                "ratio_1_to_2": one["seconds"] / two["seconds"],
                "ideal_ratio": min(2, os.cpu_count() or 1),
            }
            print(
                f"sample stage ({one['shards']} shards): {one['seconds']:.1f} s on 1 core, {two['seconds']:.1f} s "
                f"on 2 cores, ratio {report['sample_stage']['ratio_1_to_2']:.2f}"
            )
    write_report(args.output, report)


if __name__ == "__main__":
    main()
