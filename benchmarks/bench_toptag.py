"""Benchmark of the top-tagging chain: preprocessing vs a raw uproot read, training and inference of each tagger.

What is measured, in one run, on one set of jets (CPU only, torch and xgboost limited to ``--threads`` threads):

1. Preprocessing throughput against a raw read.

   (ref) Reference: ``uproot.open(f)["events"].arrays(list(JET_BRANCHES))`` for every file, i.e. reading exactly
         the branches the preprocessing needs into awkward arrays, nothing else. One untimed warm-up read (page
         cache, uproot's interpretation set-up), then ``--repeats`` timed reads; the median is reported.
   (a)   Ours: ``constituent_arrays(jets, max_constituents, rotate=...)`` + ``jet_images(jets, pixels, half_width,
         rotate=...)`` with the config defaults (64 constituents, 40x40 images, rotation on), each timed.
   (b)   Ours: ``substructure_features(E, px, py, pz, jet_r=...)`` (soft drop, N-subjettiness, C2/D2 with fastjet).

   The jets are read once beforehand with ``load_jets`` (not timed); (a) and (b) get an untimed warm-up on a few
   jets and then ``--repeats`` timed runs on all jets, median reported. ``ratio = t_ours / t_raw_read``: how many
   raw reads of the same jets our preprocessing costs. A raw read is the floor of any preprocessing (the jets have
   to be read), so the ratio is the price of the feature computation in units of I/O.

2. Training and inference of each tagger on the preprocessed arrays of those jets.

   Torch models (``pfn``, ``efn``, ``particlenet``, ``cnn``) with the default hyper-parameters of the config
   (``toptag.models``), the config's batch size and learning rate, class-balanced weights, a stratified 80/20
   train/validation split. Training: ``fit(..., epochs=--epochs, patience=large)``; reported is
   ``FitResult.examples_per_second`` (training jets per second of training loop, validation passes excluded).
   Inference: ``predict`` on all jets with batch sizes 256 and 1024 (one untimed warm-up batch, then
   ``--repeats`` timed passes, median).

   BDT: ``xgboost.XGBClassifier`` on the substructure features (200 trees, depth 4, hist, ``n_jobs`` = threads,
   no early stopping). Training jets/s = training jets / wall time of ``fit`` (all 200 boosting rounds);
   inference jets/s = all jets / wall time of one ``predict_proba`` call on all of them (median of ``--repeats``).

Samples: ``--samples FILE...`` reuses ROOT files (e.g. ``results/samples/toptag_*/*.root``; files are grouped into
samples by their directory). Without it, ``--events`` events of ``toptag_ttbar`` and of ``toptag_qcd`` are
generated with ``generate_shard`` into a temporary directory; the generation time is printed but is not part of
any measurement.

Usage::

    python benchmarks/bench_toptag.py [--samples FILE ...] [--events N] [--epochs 2] [--repeats 3]
                                      [--models pfn efn particlenet cnn bdt] [--threads 2]
                                      [--output results/benchmarks/toptag.json]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch
import uproot
from timing import summary, timed, versions, write_report  # benchmarks/timing.py, beside this script

from ml4hep.config import validate_config
from ml4hep.generate.pythia import stdout_to_stderr
from ml4hep.toptag.preprocess import JET_BRANCHES, constituent_arrays, jet_images, load_jets, split_indices
from ml4hep.toptag.substructure import FEATURE_NAMES, substructure_features

TORCH_MODELS = ("pfn", "efn", "particlenet", "cnn")
ALL_MODELS = (*TORCH_MODELS, "bdt")
DEFAULT_EVENTS = 2000
DEFAULT_EPOCHS = 2
DEFAULT_REPEATS = 3
INFERENCE_BATCHES = (256, 1024)
BDT_TREES = 200
BDT_DEPTH = 4
SPLIT = {"train": 0.8, "val": 0.2}
WARMUP_JETS = 64


def generate_samples(events: int, seed: int | None, workdir: Path) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Generate ``events`` events of toptag_ttbar and toptag_qcd (one shard each) into ``workdir``."""
    from ml4hep.generate.processes import generated_processes
    from ml4hep.generate.shard import generate_shard

    raw: dict[str, Any] = {
        "events_per_shard": max(4000, events),
        "samples": {"toptag": {"processes": {"ttbar": {"events": events}, "qcd": {"events": events}}}},
    }
    if seed is not None:
        raw["seed"] = seed
    config = validate_config(raw)
    specs = generated_processes(config)
    samples, info = {}, {"events_per_process": events, "processes": {}}
    start = time.perf_counter()
    with stdout_to_stderr():
        for name in ("toptag_ttbar", "toptag_qcd"):
            spec = specs[name]
            if spec.shards != 1 or spec.shard_events(0) != events:
                raise RuntimeError(f"{name}: expected 1 shard of {events} events, got {spec.shards} shards")
            print(f"[samples] generating {events} events of {name} ...", file=sys.stderr, flush=True)
            path = workdir / f"{name}.root"
            process_start = time.perf_counter()
            result = generate_shard(spec, 0, config, path, progress=False)
            info["processes"][name] = {
                "events": int(result["events_generated"]),
                "jets": int(result["entries_written"]),
                "seconds": time.perf_counter() - process_start,
            }
            samples[name] = [str(path)]
    info["seconds"] = time.perf_counter() - start
    return samples, info


def group_files(files: Sequence[str]) -> dict[str, list[str]]:
    """Sample name (the parent directory, else the file stem) -> files."""
    samples: dict[str, list[str]] = {}
    for file in files:
        path = Path(file)
        name = path.parent.name or path.stem
        samples.setdefault(name, []).append(str(path))
    return samples


def bench_preprocessing(
    files: Sequence[str], jets: ak.Array, options: Mapping[str, Any], repeats: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Raw uproot read vs constituent arrays + images vs substructure features; returns results and the arrays."""
    n = len(jets)
    branches = list(JET_BRANCHES)
    max_constituents = int(options["max_constituents"])
    pixels, half_width = int(options["image"]["pixels"]), float(options["image"]["half_width"])
    rotate, jet_r = bool(options["rotate"]), float(options["jet_r"])

    def raw_read() -> int:
        entries = 0
        for file in files:
            with uproot.open(file) as handle:
                entries += len(handle["events"].arrays(branches))
        return entries

    def constituents(sample: ak.Array = jets) -> tuple[np.ndarray, np.ndarray]:
        return constituent_arrays(sample, max_constituents, rotate=rotate)

    def images(sample: ak.Array = jets) -> np.ndarray:
        return jet_images(sample, pixels, half_width, rotate=rotate)

    def substructure(sample: ak.Array = jets) -> np.ndarray:
        features = substructure_features(sample.part_E, sample.part_px, sample.part_py, sample.part_pz, jet_r=jet_r)
        return np.stack([features[name] for name in FEATURE_NAMES], axis=1)

    print(
        f"[preprocess] raw read, constituents, images, substructure on {n} jets x {repeats} ...",
        file=sys.stderr,
        flush=True,
    )
    raw_entries = raw_read()  # warm-up
    if raw_entries != n:
        raise RuntimeError(f"raw read gives {raw_entries} entries but load_jets {n} jets")
    few = jets[:WARMUP_JETS]
    constituents(few), images(few), substructure(few)  # warm-up (first-use costs, fastjet library load)
    raw_times, _ = timed(raw_read, repeats)
    constituent_times, (x, mask) = timed(constituents, repeats)
    image_times, image_array = timed(images, repeats)
    substructure_times, sub = timed(substructure, repeats)
    raw_seconds = statistics.median(raw_times)
    results = {
        "raw_read": summary(raw_times, n, raw_seconds, unit="jets"),
        "constituent_arrays": summary(constituent_times, n, raw_seconds, unit="jets"),
        "jet_images": summary(image_times, n, raw_seconds, unit="jets"),
        "constituents_and_images": summary(
            [a + b for a, b in zip(constituent_times, image_times, strict=True)], n, raw_seconds, unit="jets"
        ),
        "substructure_features": summary(substructure_times, n, raw_seconds, unit="jets"),
    }
    bad = {name: int((~np.isfinite(a)).sum()) for name, a in (("x", x), ("images", image_array), ("substructure", sub))}
    if any(bad.values()):
        raise RuntimeError(f"non-finite preprocessed values: {bad}")
    return results, {"x": x, "mask": mask, "images": image_array, "substructure": sub}


def bench_torch(
    name: str,
    arrays: Mapping[str, np.ndarray],
    labels: np.ndarray,
    split: Mapping[str, np.ndarray],
    options: Mapping[str, Any],
    epochs: int,
    repeats: int,
    seed: int,
) -> dict[str, Any]:
    """Training throughput over ``epochs`` epochs and inference throughput at each batch size of one torch model."""
    from ml4hep.toptag.models import build_model, model_input_kind
    from ml4hep.training import balanced_weights, fit, predict, seed_everything

    inputs = (arrays["images"],) if model_input_kind(name) == "image" else (arrays["x"], arrays["mask"])
    hyper = dict(options["models"].get(name, {}))
    if name == "cnn":
        hyper.setdefault("pixels", int(options["image"]["pixels"]))
    seed_everything(seed)
    model = build_model(name, **hyper)
    training = options["training"]
    train, val = split["train"], split["val"]
    print(f"[{name}] training {len(train)} jets x {epochs} epochs ...", file=sys.stderr, flush=True)
    result = fit(
        model,
        [a[train] for a in inputs],
        labels[train],
        [a[val] for a in inputs],
        labels[val],
        train_weight=balanced_weights(labels[train]),
        val_weight=balanced_weights(labels[val]),
        epochs=epochs,
        batch_size=int(training["batch_size"]),
        learning_rate=float(training["learning_rate"]),
        patience=10**6,
        device=torch.device("cpu"),
        seed=seed,
        description=f"bench {name}",
    )
    out: dict[str, Any] = {
        "model": name,
        "hyper": hyper,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "train_jets": len(train),
        "epochs_run": len(result.train_loss),
        "batch_size": int(training["batch_size"]),
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "fit_seconds": result.seconds,
        "train_jets_per_second": result.examples_per_second,
        "inference": {},
    }
    for batch in INFERENCE_BATCHES:
        print(f"[{name}] inference on {len(labels)} jets, batch {batch} x {repeats} ...", file=sys.stderr, flush=True)
        predict(model, [a[:batch] for a in inputs], batch_size=batch, device=torch.device("cpu"))  # warm-up
        times, _ = timed(
            lambda batch=batch: predict(model, inputs, batch_size=batch, device=torch.device("cpu")), repeats
        )
        out["inference"][str(batch)] = summary(times, len(labels), unit="jets")
    return out


def bench_bdt(
    substructure: np.ndarray,
    labels: np.ndarray,
    split: Mapping[str, np.ndarray],
    options: Mapping[str, Any],
    threads: int,
    repeats: int,
    seed: int,
) -> dict[str, Any]:
    """Training and inference throughput of the xgboost BDT on the substructure features."""
    import xgboost

    from ml4hep.training import balanced_weights

    train = split["train"]
    model = xgboost.XGBClassifier(
        n_estimators=BDT_TREES,
        max_depth=BDT_DEPTH,
        learning_rate=float(options["bdt"]["learning_rate"]),
        random_state=seed,
        n_jobs=threads,
        device="cpu",
        tree_method="hist",
        eval_metric="logloss",
    )
    print(f"[bdt] training {len(train)} jets, {BDT_TREES} trees ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    model.fit(substructure[train], labels[train], sample_weight=balanced_weights(labels[train]), verbose=False)
    fit_seconds = time.perf_counter() - start
    model.predict_proba(substructure[:WARMUP_JETS])  # warm-up
    times, _ = timed(lambda: model.predict_proba(substructure), repeats)
    return {
        "model": "bdt",
        "hyper": {
            "n_estimators": BDT_TREES,
            "max_depth": BDT_DEPTH,
            "learning_rate": model.learning_rate,
            "tree_method": "hist",
            "n_jobs": threads,
        },
        "train_jets": len(train),
        "fit_seconds": fit_seconds,
        "train_jets_per_second": len(train) / fit_seconds,
        "inference": {"all": summary(times, len(labels), unit="jets")},
    }


def table(
    pre: Mapping[str, Any],
    models: Sequence[Mapping[str, Any]],
    n_jets: int,
    repeats: int,
    options: Mapping[str, Any],
    epochs: int,
) -> str:
    """Plain-text tables of the results."""
    pixels = int(options["image"]["pixels"])
    labels = {
        "raw_read": "raw read (uproot, JET_BRANCHES)",
        "constituent_arrays": f"constituent_arrays ({int(options['max_constituents'])} slots)",
        "jet_images": f"jet_images ({pixels}x{pixels})",
        "constituents_and_images": "(a) constituents + images",
        "substructure_features": f"(b) substructure_features ({len(FEATURE_NAMES)})",
    }
    header = f"{'preprocessing':<36} {'seconds':>8} {'jets/s':>10} {'x raw read':>10}"
    lines = [f"{n_jets} jets, median of {repeats}, rotate={bool(options['rotate'])}", header, "-" * len(header)]
    for key, label in labels.items():
        r = pre[key]
        lines.append(f"{label:<36} {r['seconds']:>8.3f} {r['jets_per_second']:>10.0f} {r['ratio_to_raw_read']:>10.2f}")
    lines.append("")
    header = (
        f"{'model':<12} {'params':>8} {'train jets':>10} {'train jets/s':>13} {'infer jets/s b=256':>19} {'b=1024':>8}"
    )
    lines += [header, "-" * len(header)]
    for r in models:
        if r["model"] == "bdt":
            params, b256, b1024 = "-", "-", f"{r['inference']['all']['jets_per_second']:.0f}*"
        else:
            params = str(r["parameters"])
            b256 = f"{r['inference']['256']['jets_per_second']:.0f}"
            b1024 = f"{r['inference']['1024']['jets_per_second']:.0f}"
        lines.append(
            f"{r['model']:<12} {params:>8} {r['train_jets']:>10d} {r['train_jets_per_second']:>13.0f} "
            f"{b256:>19} {b1024:>8}"
        )
    lines.append(
        f"torch: FitResult.examples_per_second over {epochs} epochs (validation excluded); inference = "
        f"predict on all {n_jets} jets."
    )
    if any(r["model"] == "bdt" for r in models):
        lines.append(
            f"bdt: xgboost {BDT_TREES} trees depth {BDT_DEPTH}, train jets/s = train jets / fit time; "
            f"* one predict_proba call on all {n_jets} jets."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--samples",
        nargs="+",
        default=None,
        metavar="FILE",
        help="top-tagging ROOT files to use (grouped into samples by directory); default: generate",
    )
    parser.add_argument(
        "--events",
        "-n",
        type=int,
        default=DEFAULT_EVENTS,
        help=f"events per process to generate when no --samples are given (default {DEFAULT_EVENTS})",
    )
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="training epochs (default %(default)s)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=DEFAULT_REPEATS,
        help="timed repetitions of reads, preprocessing and inference (default %(default)s)",
    )
    parser.add_argument(
        "--models", nargs="+", default=list(ALL_MODELS), choices=ALL_MODELS, help="taggers to benchmark (default: all)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads and xgboost n_jobs (default 2)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: the config's default)")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("results/benchmarks/toptag.json"),
        help="JSON file with all numbers (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.epochs < 1 or args.repeats < 1 or args.threads < 1:
        parser.error("--events, --epochs, --repeats and --threads must be >= 1")

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:  # already set (parallel work has started)
        pass
    defaults = validate_config({} if args.seed is None else {"seed": args.seed})
    seed = int(defaults["seed"])
    options = defaults["toptag"]
    load_before = os.getloadavg()
    start = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="bench_toptag_") as tmp:
        if args.samples:
            missing = [f for f in args.samples if not Path(f).is_file()]
            if missing:
                parser.error(f"missing sample file(s): {', '.join(missing)}")
            samples, generation = group_files(args.samples), None
        else:
            samples, generation = generate_samples(args.events, args.seed, Path(tmp))
        files = [f for paths in samples.values() for f in paths]
        jets = load_jets(samples)
        labels = ak.to_numpy(jets.is_signal_new).astype(np.int64)
        n_jets = len(jets)
        if generation is not None:
            per = ", ".join(f"{k}: {v['jets']} jets" for k, v in generation["processes"].items())
            print(
                f"samples: generated {args.events} events per process in {generation['seconds']:.0f} s "
                f"(not measured): {per}"
            )
        else:
            print(f"samples: {len(files)} file(s), {n_jets} jets")

        bench_start = time.perf_counter()
        with stdout_to_stderr():  # FastJet's banner (first use) goes to stderr, so stdout keeps only the tables
            preprocessing, arrays = bench_preprocessing(files, jets, options, args.repeats)

    split = split_indices(labels, SPLIT, seed)
    models = []
    for name in args.models:
        if name == "bdt":
            models.append(bench_bdt(arrays["substructure"], labels, split, options, args.threads, args.repeats, seed))
        else:
            models.append(bench_torch(name, arrays, labels, split, options, args.epochs, args.repeats, seed))
    measured = time.perf_counter() - bench_start
    total = time.perf_counter() - start

    print(table(preprocessing, models, n_jets, args.repeats, options, args.epochs))
    print(f"benchmark time {measured:.0f} s (total {total:.0f} s incl. sample generation or reading)")

    report = {
        "benchmark": "toptag",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])]),
        "method": {
            "raw_read": "uproot.open(f)['events'].arrays(list(JET_BRANCHES)) for every file; 1 warm-up, median of "
            "repeats",
            "preprocessing": "constituent_arrays, jet_images, substructure_features on the jets of load_jets (read "
            "once, not timed), config defaults; warm-up on a few jets, median of repeats; "
            "ratio_to_raw_read = seconds / raw_read.seconds",
            "torch_training": f"fit(epochs={args.epochs}, patience=1e6, config batch size and learning rate, "
            f"balanced weights) on a stratified {SPLIT} split; FitResult.examples_per_second",
            "torch_inference": f"predict on all jets, batch sizes {list(INFERENCE_BATCHES)}, warm-up batch, median of "
            "repeats",
            "bdt": f"XGBClassifier({BDT_TREES} trees, depth {BDT_DEPTH}, hist, n_jobs={args.threads}) on the "
            "substructure features; train jets / fit wall time; all jets / predict_proba wall time",
            "threads": args.threads,
            "device": "cpu",
        },
        "samples": {"files": files, "jets": n_jets, "signal_jets": int(labels.sum()), "generation": generation},
        "config": {
            "max_constituents": options["max_constituents"],
            "image": options["image"],
            "rotate": options["rotate"],
            "jet_r": options["jet_r"],
            "training": options["training"],
            "seed": seed,
        },
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "versions": versions(("torch", "xgboost", "uproot", "awkward", "fastjet", "numpy")),
        },
        "benchmark_seconds": measured,
        "total_seconds": total,
        "preprocessing": preprocessing,
        "models": models,
    }
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
