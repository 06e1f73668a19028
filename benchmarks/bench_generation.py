"""Benchmark of the event-generation job against a bare Pythia8 loop.

What is measured, per process (default ``higgs_ztautau`` and ``toptag_ttbar``), in one run and with one seed:

(a) Reference: a bare Pythia8 loop. ``make_pythia(spec.settings, seed)`` with the process' settings and the seed
    of shard 0, then only ``for _ in range(N): pythia.next()`` is timed. The initialisation time is reported
    separately.
(b) Ours: the full sample job, ``generate_shard`` for the same process with a config giving exactly N events in a
    single shard (same settings, same seed). It is timed from outside (generation in batches, awkward conversion,
    FastJet clustering, object building, writing the ROOT file to a temporary directory). Its own Pythia
    initialisation is not part of the comparison: the init time measured in (a), a separate ``make_pythia`` call
    with identical settings and seed, is subtracted.
(c) Scaling: ours at N and at 4N events; the ratio of the (init-subtracted) wall times should be ~4 if the job is
    linear in the number of events (no quadratic concatenation, no growing memory pressure).

Why the bare loop is the reference: event generation (hard process, shower, hadronisation, decays) is work any
generation job must do, and Pythia's own event loop is the fastest way to do it. Everything the job adds on top
(batch transfer to awkward arrays, jet clustering, object selection, smearing, I/O) is overhead, so
``overhead = time_ours / time_bare - 1`` is the cost of our analysis layer relative to the irreducible cost; the
goal is <= 25 %.

Usage::

    python benchmarks/bench_generation.py [--events N] [--processes higgs_ztautau toptag_ttbar ...]
                                          [--output results/benchmarks/generation.json]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import importlib
import importlib.metadata
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from timing import write_report  # benchmarks/timing.py, beside this script

from ml4hep.config import validate_config
from ml4hep.generate.processes import ProcessSpec, generated_processes
from ml4hep.generate.pythia import make_pythia, stdout_to_stderr
from ml4hep.generate.shard import generate_shard

DEFAULT_PROCESSES = ("higgs_ztautau", "toptag_ttbar")
DEFAULT_EVENTS = 1000
SCALE = 4
OVERHEAD_GOAL = 0.25


def config_for(name: str, events: int, base: dict[str, Any]) -> dict[str, Any]:
    """A validated config in which process ``name`` has exactly ``events`` events, all in one shard.

    Args:
        name: Process name, e.g. ``higgs_ztautau``, ``higgs_heavyh300`` or ``toptag_ttbar``.
        events: Events of the process.
        base: Config to start from (not modified).

    Returns:
        The validated config.
    """
    config = copy.deepcopy(base)
    config["events_per_shard"] = max(int(config.get("events_per_shard", 1)), events)
    sample_set, _, process = name.partition("_")
    samples = config.setdefault("samples", {}).setdefault(sample_set, {})
    if sample_set == "higgs" and process.startswith("heavyh"):
        samples["heavy_higgs"] = {"masses_gev": [int(process.removeprefix("heavyh"))], "events": events}
    else:
        samples.setdefault("processes", {})[process] = {"events": events}
    return validate_config(config)


def spec_for(name: str, events: int, base: dict[str, Any]) -> tuple[ProcessSpec, dict[str, Any]]:
    """The process specification and config of ``name`` with ``events`` events in one shard."""
    config = config_for(name, events, base)
    spec = generated_processes(config)[name]
    if spec.shards != 1 or spec.shard_events(0) != events:
        raise RuntimeError(f"{name}: expected 1 shard of {events} events, got {spec.shards} shards")
    return spec, config


def bare_loop(spec: ProcessSpec, seed: int, events: int) -> dict[str, Any]:
    """Reference: Pythia8 initialised with the process settings, then ``next()`` timed ``events`` times."""
    start = time.perf_counter()
    run = make_pythia(spec.settings, seed)
    init = time.perf_counter() - start
    pythia = run.pythia
    failures = 0
    start = time.perf_counter()
    for _ in range(events):
        if not pythia.next():
            failures += 1
    seconds = time.perf_counter() - start
    return {
        "init_seconds": init,
        "seconds": seconds,
        "events": events,
        "failed_next": failures,
        "events_per_second": events / seconds,
    }


def ours(spec: ProcessSpec, config: dict[str, Any], init_seconds: float, workdir: Path) -> dict[str, Any]:
    """The full generation job (one shard), timed from outside, with the Pythia init time subtracted."""
    output = workdir / f"{spec.name}_{spec.events}.root"
    start = time.perf_counter()
    summary = generate_shard(spec, 0, config, output, progress=False)
    wall = time.perf_counter() - start
    net = wall - init_seconds
    events = int(summary["events_generated"])
    return {
        "events": events,
        "entries_written": int(summary["entries_written"]),
        "wall_seconds": wall,
        "job_seconds_reported": float(summary["seconds"]),
        "init_seconds_subtracted": init_seconds,
        "seconds": net,
        "events_per_second": events / net,
        "file_bytes": output.stat().st_size,
    }


def bench_process(name: str, events: int, base: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run (a), (b) and (c) for one process."""
    spec, config = spec_for(name, events, base)
    spec_big, config_big = spec_for(name, SCALE * events, base)
    seed = spec.shard_seed(config["seed"], 0)
    if spec_big.shard_seed(config_big["seed"], 0) != seed or spec_big.settings != spec.settings:
        raise RuntimeError(f"{name}: the N and {SCALE}N runs do not share seed and settings")
    print(f"[{name}] bare Pythia8 loop, {events} events (seed {seed}) ...", file=sys.stderr, flush=True)
    bare = bare_loop(spec, seed, events)
    print(f"[{name}] generate_shard, {events} events ...", file=sys.stderr, flush=True)
    small = ours(spec, config, bare["init_seconds"], workdir)
    print(f"[{name}] generate_shard, {SCALE * events} events ...", file=sys.stderr, flush=True)
    big = ours(spec_big, config_big, bare["init_seconds"], workdir)
    return {
        "process": name,
        "seed": seed,
        "events": events,
        "batch_size": int(config["batch_size"]),
        "bare": bare,
        "ours": small,
        f"ours_{SCALE}n": big,
        "overhead": small["seconds"] / bare["seconds"] - 1.0,
        "scaling_ratio": big["seconds"] / small["seconds"],
        "scaling_ratio_wall": big["wall_seconds"] / small["wall_seconds"],
    }


def table(results: list[dict[str, Any]]) -> str:
    """A plain-text table of the results."""
    header = (
        f"{'process':<16} {'N':>6} {'init s':>7} {'bare ev/s':>10} {'ours ev/s':>10} "
        f"{'overhead':>9} {'goal':>5} {f't({SCALE}N)/t(N)':>11}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        ok = "ok" if r["overhead"] <= OVERHEAD_GOAL else "MISS"
        lines.append(
            f"{r['process']:<16} {r['events']:>6d} {r['bare']['init_seconds']:>7.2f} "
            f"{r['bare']['events_per_second']:>10.1f} {r['ours']['events_per_second']:>10.1f} "
            f"{r['overhead']:>+9.1%} {ok:>5} {r['scaling_ratio']:>11.2f}"
        )
    lines.append(
        f"overhead = t_ours / t_bare - 1 (goal <= {OVERHEAD_GOAL:.0%}); t_ours = generate_shard wall time minus the "
        f"Pythia init time measured in the bare run; t({SCALE}N)/t(N) ~ {SCALE} means linear."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events",
        "-n",
        type=int,
        default=DEFAULT_EVENTS,
        help=f"N, events per measurement; the scaling run uses {SCALE}N (default {DEFAULT_EVENTS})",
    )
    parser.add_argument(
        "--processes",
        nargs="+",
        default=list(DEFAULT_PROCESSES),
        help=f"processes to benchmark (default: {' '.join(DEFAULT_PROCESSES)})",
    )
    parser.add_argument("--seed", type=int, default=None, help="master seed (default: the config's default)")
    parser.add_argument("--batch-size", type=int, default=None, help="generate_shard batch size (default: config's)")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("results/benchmarks/generation.json"),
        help="JSON file with all numbers (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be >= 1")

    base: dict[str, Any] = {}
    if args.seed is not None:
        base["seed"] = args.seed
    if args.batch_size is not None:
        base["batch_size"] = args.batch_size
    known = generated_processes(validate_config(copy.deepcopy(base)))
    unknown = [p for p in args.processes if p not in known and not p.startswith("higgs_heavyh")]
    if unknown:
        parser.error(f"unknown process(es) {', '.join(unknown)}; choose from {', '.join(known)}")

    importlib.import_module("pythia8mc")  # imported before timing, so the first init is not charged for it
    load_before = os.getloadavg()
    start = time.perf_counter()
    results = []
    # C++ banners (FastJet prints one on first use) go to stderr, so stdout keeps only the table.
    with stdout_to_stderr(), tempfile.TemporaryDirectory(prefix="bench_generation_") as tmp:
        for name in args.processes:
            results.append(bench_process(name, args.events, base, Path(tmp)))
    total = time.perf_counter() - start

    print(table(results))
    print(f"total benchmark time {total:.0f} s")

    report = {
        "benchmark": "generation",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])]),
        "method": {
            "bare": "make_pythia(spec.settings, shard-0 seed); time of `for _ in range(N): pythia.next()` only",
            "ours": "generate_shard(spec, 0, config, tmp.root) with exactly N events in one shard, timed from "
            "outside (ROOT writing included); Pythia init time subtracted, taken from the bare run's "
            "separate make_pythia call with the same settings and seed",
            "overhead": "ours.seconds / bare.seconds - 1",
            "scaling_ratio": f"ours_{SCALE}n.seconds / ours.seconds (init-subtracted); "
            "scaling_ratio_wall: same without subtraction",
            "overhead_goal": OVERHEAD_GOAL,
        },
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "pythia8mc": importlib.metadata.version("pythia8mc"),
        },
        "total_seconds": total,
        "results": results,
    }
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
