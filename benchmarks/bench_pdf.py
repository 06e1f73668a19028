"""Benchmark of the PDF-replica task: seconds per replica fit, theory build time per dataset, time vs replicas.

What is measured, in one run (CPU, torch limited to one thread per fit as in the ``pdf_replica`` rule):

1. Seconds per replica fit: the fit inputs of the default config (``build_inputs`` on the cached commondata in
   ``results/pdf/data/`` when present, else read from nnpdf-data; FK tables from ``theory/fk/<hash>/``) and
   ``run_replica``-equivalent fits of ``--replicas`` replicas (level-2 data replica, own split, own
   preprocessing and initialisation, ``--epochs`` epochs without patience stop so every fit does the same work).
   Reported: median seconds per fit, epochs per second, and seconds per epoch per fitted point.
2. Theory build time per dataset: the ``seconds`` each FK file records from its build with eko (eko compiled,
   i.e. after the one-off 13-24 minute numba compilation), and ``--rebuild NAME`` rebuilds one table now and
   times it (needs eko's numba cache; on a fresh environment this includes the compilation).
3. Total time against the number of replicas: ``n`` replica fits run one after another (n = 1, 2, 4) and with
   ``--jobs`` worker processes in parallel (as Snakemake runs replica jobs), wall time and its ratio to one fit.

Usage::

    python benchmarks/bench_pdf.py [--replicas 3] [--epochs 1000] [--jobs 2] [--rebuild POSITIVITY]
                                   [--config config/pdf-nlo.yaml]

Numbers go to ``results/benchmarks/pdf.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# One BLAS/OpenMP thread per fit, as Snakemake sets for a `threads: 1` job (pdf_replica): with the libraries' default
# thread pools two parallel fits on two cores oversubscribe and run slower than one after another.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "src"))

from timing import versions, write_report  # noqa: E402

from ml4hep.config import load_config  # noqa: E402
from ml4hep.pdf import fit, pseudodata, theory  # noqa: E402
from ml4hep.pdf.commondata import load_dataset, save_dataset  # noqa: E402

INPUTS = Path("/tmp/ml4hep_bench_pdf_inputs.npz")


def fit_inputs(options: dict) -> pseudodata.FitInputs:
    """The default config's fit inputs (level-1 shift with seed 1)."""
    folder = ROOT / "theory" / "fk" / theory.settings_hash(options["theory"])
    data_files = {}
    for name, entry in options["datasets"].items():
        cached = ROOT / "results" / "pdf" / "data" / f"{name}.npz"
        if not cached.exists():
            save_dataset(load_dataset(name, entry["variant"]), cached)
        data_files[name] = cached
    return pseudodata.build_inputs(
        data_files, {n: folder / f"{n}.npz" for n in options["datasets"]}, folder / "POSITIVITY.npz", options, seed=1
    )


def one_fit(args: tuple[dict, int, int]) -> float:
    """One replica fit on the saved inputs; returns its wall time (the fit loop only)."""
    import torch

    options, seed, epochs = args
    torch.set_num_threads(1)
    inputs = pseudodata.FitInputs.load(INPUTS)
    fitted = np.flatnonzero(inputs.fitted_points())
    data = pseudodata.replica_data(inputs, seed)[fitted]
    train = pseudodata.training_split(inputs.point_dataset, fitted, 0.75, seed)
    alpha, beta = fit.draw_preprocessing(options["preprocessing"], np.random.default_rng(seed))
    torch.manual_seed(seed)
    model = fit.PDFModel(options["network"]["hidden"], alpha, beta, options["network"]["activation"])
    training = {**options["training"], "epochs": epochs, "patience": epochs + 1}
    result = fit.fit_replica(
        model,
        inputs.fk[fitted],
        inputs.xgrid,
        data,
        inputs.cov_fit[np.ix_(fitted, fitted)],
        train,
        inputs.positivity_fk,
        training,
    )
    return result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rebuild", default=None, help="rebuild and time one theory table (e.g. POSITIVITY)")
    parser.add_argument(
        "--config",
        default=str(ROOT / "config" / "config.yaml"),
        help="config whose pdf block is benchmarked (e.g. config/pdf-nlo.yaml for the NLO theory)",
    )
    parser.add_argument("--output", default=str(ROOT / "results" / "benchmarks" / "pdf.json"))
    args = parser.parse_args()
    options = load_config(args.config)["pdf"]
    print(f"theory: {options['theory']['order']}, FK tables {theory.settings_hash(options['theory'])}")
    load_before = os.getloadavg()

    inputs = fit_inputs(options)
    inputs.save(INPUTS)
    n_points = int(inputs.fitted_points().sum())
    print(f"fit inputs: {n_points} fitted points, {len(inputs.xgrid)} x-grid points")

    times = [one_fit((options, seed, args.epochs)) for seed in range(args.replicas)]
    per_fit = statistics.median(times)
    print(f"replica fit: {per_fit:.2f} s for {args.epochs} epochs ({args.epochs / per_fit:.0f} epochs/s)")

    folder = ROOT / "theory" / "fk" / theory.settings_hash(options["theory"])
    build = {path.stem: float(theory.load_table(path)["seconds"]) for path in sorted(folder.glob("*.npz"))}
    points = {
        path.stem: int(len(theory.load_table(path)["index"]))
        for path in sorted(folder.glob("*.npz"))
        if path.stem != "EVOLUTION"
    }
    rebuilt = None
    if args.rebuild:
        target = Path("/tmp") / f"ml4hep_bench_{args.rebuild}.npz"
        kind = {"POSITIVITY": "positivity", "EVOLUTION": "evolution"}.get(args.rebuild, "dataset")
        start = time.perf_counter()
        theory.build_table(
            kind,
            options["theory"],
            target,
            dataset=args.rebuild if kind == "dataset" else None,
            evolve_to_q=options["theory"]["evolve_to_q"],
        )
        rebuilt = {"table": args.rebuild, "seconds": time.perf_counter() - start}
        print(f"rebuilt {args.rebuild}: {rebuilt['seconds']:.1f} s")

    scaling = {}
    for n in (1, 2, 4):
        start = time.perf_counter()
        for seed in range(n):
            one_fit((options, 100 + seed, args.epochs))
        sequential = time.perf_counter() - start
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(one_fit, [(options, 200 + seed, args.epochs) for seed in range(n)]))
        parallel = time.perf_counter() - start
        scaling[str(n)] = {"sequential_seconds": sequential, "parallel_seconds": parallel}
        print(f"{n} replicas: sequential {sequential:.1f} s, {args.jobs} parallel workers {parallel:.1f} s")
    one = scaling["1"]["sequential_seconds"]
    for entry in scaling.values():
        entry["sequential_ratio_to_one"] = entry["sequential_seconds"] / one
        entry["parallel_ratio_to_one"] = entry["parallel_seconds"] / one

    write_report(
        Path(args.output),
        {
            "replica_fit": {
                "seconds_median": per_fit,
                "seconds_all": times,
                "epochs": args.epochs,
                "epochs_per_second": args.epochs / per_fit,
                "fitted_points": n_points,
                "seconds_per_epoch_per_point": per_fit / args.epochs / n_points,
            },
            "theory_build_seconds_recorded": build,
            "theory_points": points,
            "theory_rebuilt_now": rebuilt,
            "replicas_scaling": scaling,
            "jobs": args.jobs,
            "theory_order": options["theory"]["order"],
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "versions": versions(["torch", "numpy", "eko", "nnpdf-data"]),
        },
    )


if __name__ == "__main__":
    main()
