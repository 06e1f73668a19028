"""Scaling of peak memory and wall time with the data size: top-tagging features, training, scoring; Higgs features.

What is measured: each stage at 1x, 4x and 16x a base number of jets (events for the Higgs stage), every stage in a
fresh Python subprocess, which reports its wall time (the stage's work, after the imports) and its peak resident
memory (``VmHWM`` of ``/proc/self/status``: the high-water mark of the whole process, imports included, i.e. what
a workflow job of that stage needs; ``start_rss_mb`` is the resident memory after the imports). The imports (torch,
uproot, the ml4hep modules, and torch's first optimiser, which imports ``torch._dynamo``: about 5 s) happen before
the clock starts. The report gives both per stage and size, and their ratios to 1x.

Stages (top tagging through the workflow's own functions, on chunked ROOT split files, ``--chunk-size`` jets per
chunk):

* ``toptag_shard_features``: :func:`ml4hep.toptag.preprocess.shard_features` of each sample's shard (constituents,
  images, substructure; read, computed and written chunk by chunk).
* ``toptag_split``: :func:`ml4hep.toptag.preprocess.split_features` (train/val/test by seed, shard by shard).
* ``pfn_epoch`` and ``particlenet_epoch``: one training epoch (plus the validation pass) of the tagger through
  ``TorchClassifier.fit`` on the streamed train and val splits, 2 threads.
* ``toptag_scoring``: the PFN of ``pfn_epoch`` reloaded, scores of every split (streamed), the scores friend tree.
* ``higgs_features``: the Higgs event table of ``higgs_ztautau`` and ``higgs_ggh125`` as the workflow builds it:
  :func:`ml4hep.higgs.dataset.shard_table` of every shard (selection and features; separate jobs in the workflow,
  one after another here), then :func:`ml4hep.higgs.dataset.split_tables` (chunked ROOT split files,
  ``--chunk-size`` events per basket).
* ``higgs_dnn_epoch``: one epoch (plus the validation pass) of the Higgs DNN through ``TorchClassifier.fit`` on the
  streamed split files of ``higgs_features`` (``--chunk-size`` events per read), then its scores of the test split
  (streamed), 2 threads.
* ``higgs_bdt``: the Higgs BDT trained on the same split files (xgboost's quantised matrix fed chunk by chunk,
  :mod:`ml4hep.models.boosted`; at these sizes binned in memory, one byte per value), a fixed :data:`BDT_ROUNDS`
  trees (no early stop, so that every size grows the same number of trees), then its scores of the test split
  (chunk by chunk), 2 threads.
* ``higgs_regression_epoch``: one epoch of the di-tau mass regression (``folds: 0``; the events with a true mass
  streamed with their targets joined chunk by chunk, the standardiser fitted in two passes over the chunks), then
  its predictions of the test split, 2 threads.

Sizes: the base samples are generated once (``--events`` events of ``toptag_ttbar`` and ``toptag_qcd``; of
``higgs_ztautau`` and ``higgs_ggh125``). Larger sizes replicate them: copy ``k`` of a top-tagging jet has every
constituent momentum rotated about the jet axis by a random angle (Rodrigues' rotation; the jet's momentum, mass
and substructure are unchanged, the constituents' (eta, phi) pattern is not: the copies are distinct jets for the
networks), and copy ``k`` of a Higgs event has every object's phi (leptons, taus, jets, MET) turned by one random
angle (the event's physics is unchanged). The replicated top-tagging files hold all jets of a sample in one
shard, so the feature stage at 16x reads a 16x shard: its memory stays flat only because it is chunked within the
shard. The Higgs replicas are one shard per copy (a larger sample has more shards, as in the workflow), since
the Higgs shard step reads its shard whole.

Goals (issue #13): peak RSS at 16x within 1.5x of 1x, time at 16x within 17x of 1x. The numbers are reported as
measured, whether or not a goal is met. Timings depend on other load on the machine.

Usage::

    python benchmarks/bench_scale.py --quick            # under 5 minutes on 2 cores
    python benchmarks/bench_scale.py [--events 2000] [--factors 1 4 16] [--chunk-size 512]
                                     [--output results/benchmarks/scale.json]

Output: ``results/benchmarks/scale.json``: ``{"stages": {stage: {"peak_rss_ratio_16x", "time_ratio_16x",
"sizes": {factor: {"rows", "seconds", "peak_rss_mb", "start_rss_mb"}}, ...}}, "settings": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TOPTAG_STAGES = ("toptag_shard_features", "toptag_split", "pfn_epoch", "particlenet_epoch", "toptag_scoring")
HIGGS_STAGES = ("higgs_features", "higgs_dnn_epoch", "higgs_bdt", "higgs_regression_epoch")
STAGES = (*TOPTAG_STAGES, *HIGGS_STAGES)
BDT_ROUNDS = 50
"""Trees of the ``higgs_bdt`` stage (early stopping off)."""
TOPTAG_SAMPLES = ("toptag_ttbar", "toptag_qcd")
HIGGS_SAMPLES = {"higgs_ggh125": "signal", "higgs_ztautau": "background"}
QUICK = {"events": 400, "higgs_events": 600, "chunk_size": 256}
FULL = {"events": 2000, "higgs_events": 3000, "chunk_size": 512}
GOALS = {"peak_rss_ratio_16x": 1.5, "time_ratio_16x": 17.0}


def memory_mb(key: str) -> float:
    """``VmHWM`` or ``VmRSS`` of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def toptag_options(chunk_size: int) -> dict[str, Any]:
    """The ``toptag`` section of the default config (64 constituents, 40x40 images), with the bench's chunk size."""
    from ml4hep.config import validate_config

    options = validate_config({})["toptag"]
    options["chunk_size"] = chunk_size
    return options


def one_epoch_hyper(name: str, quick: bool) -> dict[str, Any]:
    """One epoch of the tagger: the test config's sizes with --quick, else the defaults."""
    from ml4hep.config import load_config, validate_config
    from ml4hep.toptag.taggers import tagger_hyper

    config = load_config(ROOT / "config" / "test.yaml") if quick else validate_config({})
    return {**tagger_hyper(config["toptag"], name), "epochs": 1}


# ---------------------------------------------------------------- stages (each run in a fresh subprocess)


def stage_shard_features(folder: Path, settings: Mapping[str, Any]) -> int:
    from ml4hep.toptag.preprocess import shard_features

    options = toptag_options(settings["chunk_size"])
    return sum(
        shard_features(
            folder / f"{sample}.root", 0, options, folder / "shards" / f"{sample}.root", settings["chunk_size"]
        )
        for sample in TOPTAG_SAMPLES
    )


def stage_split(folder: Path, settings: Mapping[str, Any]) -> int:
    from ml4hep.toptag.preprocess import SPLITS, split_features

    options = toptag_options(settings["chunk_size"])
    shards = {sample: [folder / "shards" / f"{sample}.root"] for sample in TOPTAG_SAMPLES}
    counts = split_features(
        shards, options, 1, {s: folder / "features" / f"{s}.root" for s in SPLITS}, settings["chunk_size"]
    )
    return sum(counts.values())


def _epoch(name: str, folder: Path, settings: Mapping[str, Any]) -> int:
    from ml4hep.models import FitContext
    from ml4hep.toptag.preprocess import load_split
    from ml4hep.toptag.taggers import TAGGERS

    splits = {s: load_split(folder / "features" / f"{s}.root", settings["chunk_size"]) for s in ("train", "val")}
    model = TAGGERS.create(name, one_epoch_hyper(name, settings["quick"]))
    model.fit(splits["train"], splits["val"], FitContext(seed=3, threads=2))
    model.save(folder / f"{name}.pt")
    return splits["train"].n_rows + splits["val"].n_rows


def stage_pfn(folder: Path, settings: Mapping[str, Any]) -> int:
    return _epoch("pfn", folder, settings)


def stage_particlenet(folder: Path, settings: Mapping[str, Any]) -> int:
    return _epoch("particlenet", folder, settings)


def stage_scoring(folder: Path, settings: Mapping[str, Any]) -> int:
    import torch

    from ml4hep.models.scores import write_scores
    from ml4hep.toptag.preprocess import SPLITS, load_split
    from ml4hep.toptag.taggers import TAGGERS

    torch.set_num_threads(2)
    model = TAGGERS.load("pfn", folder / "pfn.pt")
    splits = {s: load_split(folder / "features" / f"{s}.root", settings["chunk_size"]) for s in SPLITS}
    scores = {s: model.predict(split) for s, split in splits.items()}
    write_scores(folder / "pfn_scores.root", splits, scores, TOPTAG_SAMPLES)
    return sum(len(v) for v in scores.values())


def stage_higgs(folder: Path, settings: Mapping[str, Any]) -> int:
    from ml4hep.config import validate_config
    from ml4hep.higgs.dataset import SPLITS, shard_table, split_tables

    options = {**validate_config({})["higgs"], "chunk_size": settings["chunk_size"]}
    tables = {}
    for name, role in HIGGS_SAMPLES.items():
        shards = sorted((folder / name).glob("*.root"), key=lambda path: int(path.stem))
        tables[name] = [folder / "higgs" / name / f"{path.stem}.npz" for path in shards]
        for shard, (path, table) in enumerate(zip(shards, tables[name], strict=True)):
            shard_table(path, name, shard, role, float(options["jet_pt_min"]), table)
    summary = split_tables(tables, options, 1, {s: folder / "higgs" / f"{s}.root" for s in SPLITS})
    return sum(v["selected_events"] for v in summary.values())


def stage_higgs_dnn(folder: Path, settings: Mapping[str, Any]) -> int:
    from ml4hep.config import section
    from ml4hep.higgs.classifiers import CLASSIFIERS, classifier_splits
    from ml4hep.models import FitContext

    paths = {s: folder / "higgs" / f"{s}.root" for s in ("train", "val", "test")}
    splits = classifier_splits(paths, [], chunk_size=settings["chunk_size"])
    model = CLASSIFIERS.create("dnn", section("higgs.dnn", {"epochs": 1, "batch_size": 64}))
    model.fit(splits["train"], splits["val"], FitContext(seed=3, threads=2))
    scores = model.predict(splits["test"])
    return splits["train"].n_rows + splits["val"].n_rows + len(scores)


def stage_higgs_bdt(folder: Path, settings: Mapping[str, Any]) -> int:
    from ml4hep.config import section
    from ml4hep.higgs.classifiers import CLASSIFIERS, classifier_splits
    from ml4hep.models import FitContext

    paths = {s: folder / "higgs" / f"{s}.root" for s in ("train", "val", "test")}
    splits = classifier_splits(paths, [], chunk_size=settings["chunk_size"])
    hyper = section("higgs.bdt", {"n_estimators": BDT_ROUNDS, "early_stopping_rounds": BDT_ROUNDS})
    model = CLASSIFIERS.create("bdt", hyper)
    model.fit(splits["train"], splits["val"], FitContext(seed=3, threads=2))
    scores = model.predict(splits["test"])
    return splits["train"].n_rows + splits["val"].n_rows + len(scores)


def stage_higgs_regression(folder: Path, settings: Mapping[str, Any]) -> int:
    from ml4hep.higgs.regression import MassRegressor, regression_splits
    from ml4hep.models import FitContext

    paths = {s: folder / "higgs" / f"{s}.root" for s in ("train", "val", "test")}
    splits = regression_splits(paths, settings["chunk_size"])
    model = MassRegressor(epochs=1, batch_size=64, folds=0)
    model.fit(splits["train"], splits["val"], FitContext(seed=3, threads=2))
    predictions = model.predict(splits["test"])
    return splits["train"].n_rows + splits["val"].n_rows + len(predictions)


STAGE_FUNCTIONS: dict[str, Callable[[Path, Mapping[str, Any]], int]] = {
    "toptag_shard_features": stage_shard_features,
    "toptag_split": stage_split,
    "pfn_epoch": stage_pfn,
    "particlenet_epoch": stage_particlenet,
    "toptag_scoring": stage_scoring,
    "higgs_features": stage_higgs,
    "higgs_dnn_epoch": stage_higgs_dnn,
    "higgs_bdt": stage_higgs_bdt,
    "higgs_regression_epoch": stage_higgs_regression,
}


def warm_up(stage: str) -> None:
    """Import what the stages use (torch's first optimiser imports torch._dynamo: about 5 s), before the clock."""
    import torch

    import ml4hep.higgs.classifiers
    import ml4hep.higgs.dataset
    import ml4hep.higgs.regression
    import ml4hep.models.scores
    import ml4hep.toptag.models
    import ml4hep.toptag.preprocess
    import ml4hep.toptag.taggers  # noqa: F401

    torch.set_num_threads(2)
    if stage.endswith("_epoch"):  # the Higgs DNN's and the regression's too
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    if stage == "higgs_bdt":
        import xgboost  # noqa: F401


def run_stage_here(stage: str, folder: Path, settings: Mapping[str, Any]) -> None:
    """Child side: run one stage after the imports, print its JSON measurement as the last stdout line."""
    from ml4hep.chunked import limit_heap_growth

    warm_up(stage)
    limit_heap_growth()  # as the workflow's streaming rule scripts do
    start_rss = memory_mb("VmRSS")
    start = time.perf_counter()
    rows = STAGE_FUNCTIONS[stage](folder, settings)
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": memory_mb("VmHWM"), "start_rss_mb": start_rss}))


def run_stage(stage: str, folder: Path, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Parent side: the stage in a fresh interpreter."""
    command = [sys.executable, __file__, "--stage", stage, "--folder", str(folder), "--settings", json.dumps(settings)]
    # passive OpenMP waits: spinning threads on a loaded machine made the 50 rounds of a tiny BDT take 54 s, not 3
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"stage {stage} in {folder} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- samples and their replicas


def generate_base(workdir: Path, events: int, higgs_events: int) -> dict[str, Path]:
    """One shard each of the top-tagging and Higgs processes (not timed)."""
    from ml4hep.config import validate_config
    from ml4hep.generate.processes import generated_processes
    from ml4hep.generate.pythia import stdout_to_stderr
    from ml4hep.generate.shard import generate_shard

    raw = {
        "events_per_shard": max(events, higgs_events),
        "samples": {
            "toptag": {"processes": {"ttbar": {"events": events}, "qcd": {"events": events}}},
            "higgs": {"processes": {"ggh125": {"events": higgs_events}, "ztautau": {"events": higgs_events}}},
        },
    }
    config = validate_config(raw)
    specs = generated_processes(config)
    paths = {}
    with stdout_to_stderr():
        for name in (*TOPTAG_SAMPLES, *HIGGS_SAMPLES):
            paths[name] = workdir / "base" / f"{name}.root"
            paths[name].parent.mkdir(parents=True, exist_ok=True)
            print(f"[bench_scale] generating {name} ...", file=sys.stderr, flush=True)
            generate_shard(specs[name], 0, config, paths[name], progress=False)
    return paths


def rotate_about_jet_axis(jets: Any, rng: np.random.Generator) -> Any:
    """The jets with every constituent momentum rotated about the jet axis by one random angle per jet."""
    import awkward as ak

    angle = rng.uniform(0, 2 * np.pi, len(jets))
    theta = 2 * np.arctan(np.exp(-ak.to_numpy(jets.jet_eta)))
    phi = ak.to_numpy(jets.jet_phi)
    axis = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
    p = [jets.part_px, jets.part_py, jets.part_pz]
    cos, sin = np.cos(angle), np.sin(angle)
    dot = axis[0] * p[0] + axis[1] * p[1] + axis[2] * p[2]
    cross = [axis[1] * p[2] - axis[2] * p[1], axis[2] * p[0] - axis[0] * p[2], axis[0] * p[1] - axis[1] * p[0]]
    rotated = [p[i] * cos + cross[i] * sin + axis[i] * dot * (1 - cos) for i in range(3)]
    for name, values in zip(("part_px", "part_py", "part_pz"), rotated, strict=True):
        jets = ak.with_field(jets, values, name)
    return jets


def turn_phi(events: Any, rng: np.random.Generator) -> Any:
    """The events with the phi of every object turned by one random angle per event."""
    import awkward as ak

    angle = rng.uniform(0, 2 * np.pi, len(events))
    for field in events.fields:
        if field.endswith("_phi"):
            events = ak.with_field(events, (events[field] + angle + np.pi) % (2 * np.pi) - np.pi, field)
    return events


def replicate(
    source: Path,
    output: Path,
    factor: int,
    transform: Callable[[Any, np.random.Generator], Any],
    branches: tuple[str, ...],
    seed: int,
    *,
    one_file: bool = True,
) -> None:
    """``factor`` transformed copies of ``source``'s events (copy 0 unchanged), written copy by copy.

    With ``one_file`` all copies go to ``output``; otherwise copy ``k`` is the shard ``output/{k}.root``.
    """
    from ml4hep.io import read_tree, to_branches, write_root

    events = read_tree(source, list(branches))
    rng = np.random.default_rng(seed)
    copies = (to_branches(events if k == 0 else transform(events, rng)) for k in range(factor))
    if one_file:
        write_root(output, {"events": copies})
        return
    for k, copy in enumerate(copies):
        write_root(output / f"{k}.root", {"events": copy})


def prepare(workdir: Path, base: Mapping[str, Path], factors: list[int]) -> dict[int, Path]:
    """A folder per size with the replicated samples."""
    from ml4hep.higgs.dataset import GENERATED_BRANCHES
    from ml4hep.toptag.preprocess import JET_BRANCHES

    folders = {}
    for factor in factors:
        folder = workdir / f"x{factor}"
        folder.mkdir(parents=True, exist_ok=True)
        for number, name in enumerate((*TOPTAG_SAMPLES, *HIGGS_SAMPLES)):
            toptag = name in TOPTAG_SAMPLES
            target = folder / f"{name}.root" if toptag else folder / name
            replicate(
                base[name],
                target,
                factor,
                rotate_about_jet_axis if toptag else turn_phi,
                JET_BRANCHES if toptag else GENERATED_BRANCHES,
                seed=100 * factor + number,
                one_file=toptag,
            )
        folders[factor] = folder
    return folders


# ---------------------------------------------------------------- report


def ratios(sizes: Mapping[int, Mapping[str, Any]], factors: list[int]) -> dict[str, Any]:
    """Peak-RSS and time ratios of every size to the smallest."""
    first = sizes[factors[0]]
    out: dict[str, Any] = {}
    for factor in factors[1:]:
        out[f"peak_rss_ratio_{factor}x"] = sizes[factor]["peak_rss_mb"] / first["peak_rss_mb"]
        out[f"time_ratio_{factor}x"] = sizes[factor]["seconds"] / first["seconds"]
        out[f"rows_ratio_{factor}x"] = sizes[factor]["rows"] / max(first["rows"], 1)
    last = factors[-1]
    out["meets_goals"] = {
        key: out.get(key.replace("16x", f"{last}x"), float("nan")) <= goal for key, goal in GOALS.items()
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small base samples and test-config network sizes")
    parser.add_argument("--events", type=int, help="base events per top-tagging process")
    parser.add_argument("--higgs-events", type=int, help="base events per Higgs process")
    parser.add_argument("--chunk-size", type=int, help="jets per chunk of the feature files")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--output", default="results/benchmarks/scale.json")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        run_stage_here(args.stage, Path(args.folder), json.loads(args.settings))
        return
    defaults = QUICK if args.quick else FULL
    settings = {
        "quick": bool(args.quick),
        "events": args.events or defaults["events"],
        "higgs_events": args.higgs_events or defaults["higgs_events"],
        "chunk_size": args.chunk_size or defaults["chunk_size"],
    }
    start = time.perf_counter()
    stages: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as scratch:
        workdir = Path(scratch)
        base = generate_base(workdir, settings["events"], settings["higgs_events"])
        folders = prepare(workdir, base, args.factors)
        print(f"[bench_scale] samples ready after {time.perf_counter() - start:.0f} s", file=sys.stderr)
        for factor in args.factors:
            for stage in args.stages:
                measured = run_stage(stage, folders[factor], settings)
                stages.setdefault(stage, {"sizes": {}})["sizes"][factor] = measured
                print(
                    f"[bench_scale] {stage:22s} x{factor:<3d} {measured['rows']:8d} rows "
                    f"{measured['seconds']:8.2f} s  peak {measured['peak_rss_mb']:7.1f} MB "
                    f"(start {measured['start_rss_mb']:.1f} MB)",
                    file=sys.stderr,
                    flush=True,
                )
    for stage in stages.values():
        stage.update(ratios(stage["sizes"], args.factors))
    report = {
        "stages": stages,
        "settings": {**settings, "factors": args.factors, "goals": GOALS, "threads": 2},
        "seconds": time.perf_counter() - start,
        "load_average": os.getloadavg(),
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    for name, stage in stages.items():
        print(
            f"{name:22s} peak RSS x{args.factors[-1]}/x{args.factors[0]}: "
            f"{stage.get(f'peak_rss_ratio_{args.factors[-1]}x', float('nan')):.2f}   time: "
            f"{stage.get(f'time_ratio_{args.factors[-1]}x', float('nan')):.2f}"
        )
    print(f"written {output} ({report['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
