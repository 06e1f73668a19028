"""Benchmark of the SUSY task: recast time per point against classifier inference per point (batch and single).

What is measured, in one run, on one set of pMSSM-19 points (CPU, torch and xgboost limited to one thread):

1. The recast (``label_points``: tree-level spectrum, cross sections, yields, one pyhf CLs test per signal region with
   at least ``min_signal_events`` expected events), the slow reference. ``--points`` neutralino-LSP points are
   drawn in the ranges of the config (``--config``, default ``config/config.yaml``); the recast runs on all of them
   once (one untimed warm-up point first); reported: seconds per point (total / points), and the per-point
   distribution (median, 90% quantile) from the recast's own per-point timer. The vectorised part (spectrum,
   cross sections, yields for all points at once) is timed separately.
2. Each classifier (``rf``, ``bdt``, ``mlp``) from ``--models`` (default ``results/susy/models``, written by the
   workflow). When a model is missing, that classifier is trained here on the benchmark's own labelled points with
   the config's hyper-parameters (timing only: its accuracy is not reported). Inference includes the inputs (the
   tree-level masses from the 19 parameters): batch = one call on all points (median of ``--repeats``), single =
   one call per point for ``--single`` points (mean).
3. Speed-up = recast seconds per point / classifier seconds per point, for batch and single inference.

Usage::

    python benchmarks/bench_susy.py [--config config/config.yaml] [--points 300] [--repeats 5] [--single 100]
                                    [--models results/susy/models] [--output results/benchmarks/susy.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from timing import timed, versions, write_report  # benchmarks/timing.py, beside this script

from ml4hep.config import derive_seed, load_config
from ml4hep.models import FitContext
from ml4hep.susy.classifiers import (
    CLASSIFIERS,
    PARAMETER_COLUMN,
    classifier_inputs,
    feature_names,
    features,
    hyper_parameters,
    p_allowed,
)
from ml4hep.susy.recast import EXCLUDED, label_points, signal_yields
from ml4hep.susy.scan import PARAMETERS, sample_points
from ml4hep.susy.spectrum import spectrum


def neutralino_lsp_points(n: int, ranges, seed: int) -> dict[str, np.ndarray]:
    """``n`` points of the scan whose LSP is the lightest neutralino (the points the recast labels)."""
    kept: dict[str, list[np.ndarray]] = {p: [] for p in PARAMETERS}
    total, attempt = 0, 0
    while total < n:
        points = sample_points(4 * n, derive_seed(seed, "bench", attempt), ranges)
        good = spectrum(points)["lsp"] == 0
        for p in PARAMETERS:
            kept[p].append(points[p][good])
        total += int(good.sum())
        attempt += 1
    return {p: np.concatenate(v)[:n] for p, v in kept.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--single", type=int, default=100)
    parser.add_argument("--models", default="results/susy/models")
    parser.add_argument("--output", default="results/benchmarks/susy.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config)
    susy = config["susy"]
    recast = susy["recast"]
    load_before = os.getloadavg()
    points = neutralino_lsp_points(args.points, susy["scan"]["ranges"], config["seed"])
    n = len(points["M1"])

    one = {p: v[:1] for p, v in points.items()}
    label_points(
        one, recast["signal_regions"], recast["luminosity_fb"], recast["min_signal_events"], recast["xsec_order"]
    )  # warm-up (imports, table loading)
    start = time.perf_counter()
    vector = signal_yields(spectrum(points), recast["luminosity_fb"], recast["xsec_order"])
    vector_seconds = time.perf_counter() - start
    start = time.perf_counter()
    labels = label_points(
        points, recast["signal_regions"], recast["luminosity_fb"], recast["min_signal_events"], recast["xsec_order"]
    )
    recast_total = time.perf_counter() - start
    recast_per_point = recast_total / n
    tested = int(sum(np.isfinite(labels[f"cls_obs_{r}"]).sum() for r in vector))
    print(
        f"recast: {n} points in {recast_total:.2f} s = {1e3 * recast_per_point:.2f} ms/point "
        f"({tested} pyhf tests, {np.mean(labels['excluded'] == EXCLUDED):.1%} excluded); vectorised part "
        f"{1e6 * vector_seconds / n:.1f} us/point"
    )

    allowed = (labels["excluded"] != EXCLUDED).astype(int)
    report_classifiers = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in CLASSIFIERS:
            suffix = CLASSIFIERS.model_class(name).suffix
            path = Path(args.models) / f"{name}{suffix}"
            info_path = Path(args.models) / f"{name}_info.json"
            source = "workflow"
            if path.is_file() and info_path.is_file():
                names = json.loads(info_path.read_text()).get("feature_names", [])
                inputs = "parameters" if names == feature_names("parameters") else "parameters_and_masses"
            else:
                inputs = classifier_inputs(name, susy["inputs"])
                source = "trained here on the benchmark points (timing only)"
                path = Path(scratch) / f"{name}{suffix}"
                x = features(points, inputs)
                split = {"X": x, "allowed": allowed, "feature_names": np.array(feature_names(inputs))}
                split[PARAMETER_COLUMN] = features(points, "parameters")
                model = CLASSIFIERS.create(name, hyper_parameters(name, susy))
                model.fit(split, split, FitContext(seed=1, device="cpu"))
                model.save(path)
            predictor = CLASSIFIERS.load(name, path)
            p_allowed(predictor, features(one, inputs))  # warm-up
            batch_times, _ = timed(lambda p=predictor, i=inputs: p_allowed(p, features(points, i)), args.repeats)
            k = min(args.single, n)
            start = time.perf_counter()
            for i in range(k):
                p_allowed(predictor, features({p: v[i : i + 1] for p, v in points.items()}, inputs))
            single = (time.perf_counter() - start) / k
            batch = statistics.median(batch_times) / n
            report_classifiers[name] = {
                "model": source,
                "inputs": inputs,
                "seconds_per_point_batch": batch,
                "seconds_per_point_single": single,
                "speedup_batch": recast_per_point / batch,
                "speedup_single": recast_per_point / single,
            }
            print(
                f"{name}: batch {1e6 * batch:.1f} us/point (x{recast_per_point / batch:,.0f}), single "
                f"{1e3 * single:.3f} ms/point (x{recast_per_point / single:,.0f})  [{source}]"
            )

    per_point = labels["seconds"]
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
        },
        "versions": versions(["numpy", "scipy", "pyhf", "scikit-learn", "xgboost", "torch"]),
        "config": args.config,
        "points": n,
        "recast": {
            "seconds_per_point": recast_per_point,
            "seconds_total": recast_total,
            "median_point_seconds": float(np.median(per_point)),
            "q90_point_seconds": float(np.quantile(per_point, 0.9)),
            "pyhf_tests": tested,
            "vectorised_part_seconds_per_point": vector_seconds / n,
            "fraction_excluded": float(np.mean(labels["excluded"] == EXCLUDED)),
        },
        "classifiers": report_classifiers,
    }
    write_report(Path(args.output), report)


if __name__ == "__main__":
    main()
