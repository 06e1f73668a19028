"""The ``sbi`` task's outputs: the inference of every estimator, the intervals table and the metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.sbi.inference import log_ratio_table, summarise, theta_grid
from ml4hep.tables import Column, number, write_table

INTERVAL_KEYS = (
    "estimator",
    "theta_true",
    "low68",
    "high68",
    "width68",
    "low95",
    "high95",
    "width95",
    "coverage68",
    "coverage95",
    "theta_hat_mean",
    "theta_hat_std",
    "width68_over_truth",
)


def run_inference(
    models: Mapping[str, Any],
    direct: Mapping[float, np.ndarray],
    thetas: Sequence[float],
    options: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Every estimator on every directly generated sample.

    Args:
        models: Estimator name -> trained model (``predict`` gives ln r̂ for ``X`` and ``theta``).
        direct: θ_true -> observables of the sample generated at θ_true (never seen in training).
        thetas: The variation points (the grid spans their range).
        options: ``sbi.inference`` (``events``, ``experiments``, ``grid_points``).
        seed: Seed of the pseudo-experiments (the same draws for every estimator).

    Returns:
        ``grid``, ``events`` and ``results``: estimator -> θ_true label -> :func:`ml4hep.sbi.inference.summarise`.
    """
    grid = theta_grid(thetas, options["grid_points"])
    results: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        results[name] = {}
        for theta_true, x in direct.items():
            table = log_ratio_table(model, x, grid)
            results[name][f"{theta_true:g}"] = summarise(
                grid, table, theta_true, int(options["events"]), int(options["experiments"]), seed
            )
    return {
        "grid": grid.tolist(),
        "events": int(options["events"]),
        "experiments": int(options["experiments"]),
        "results": results,
    }


def interval_rows(inference: Mapping[str, Any], display_names: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per (estimator, θ_true): expected intervals, coverage, θ̂ spread, 68% width over the truth's.

    The last is the ratio to the ``truth`` entry's width at the same θ_true (None without one).

    Example:
        >>> keys = ("theta_true", "low68", "high68", "low95", "high95", "width95", "coverage68", "coverage95")
        >>> result = {**dict.fromkeys(keys, 1.0), "width68": 0.4, "theta_hat_mean": 1.4, "theta_hat_std": 0.2}
        >>> inference = {"results": {"truth": {"1.4": result}, "carl": {"1.4": {**result, "width68": 0.6}}}}
        >>> [round(r["width68_over_truth"], 2) for r in interval_rows(inference, {})]
        [1.0, 1.5]
    """
    truth = inference["results"].get("truth", {})
    rows = []
    for name, per_theta in inference["results"].items():
        for label, result in per_theta.items():
            reference = truth.get(label, {}).get("width68")
            ratio = result["width68"] / reference if reference else None
            rows.append(
                {
                    "estimator": name,
                    "name": display_names.get(name, name),
                    **{k: result[k] for k in INTERVAL_KEYS[1:-1]},
                    "width68_over_truth": ratio,
                }
            )
    return rows


def write_intervals(
    rows: Sequence[Mapping[str, Any]], csv: str | Path, md: str | Path, events: int, html: str | Path | None = None
) -> None:
    """``intervals.csv`` (every number), ``intervals.md`` and, for the report, ``intervals.html``."""
    columns = [
        Column("Estimator", "name", align="l"),
        Column("θ_true", lambda r: number(r["theta_true"])),
        Column("68% interval", lambda r: f"[{r['low68']:.3f}, {r['high68']:.3f}]"),
        Column("95% interval", lambda r: f"[{r['low95']:.3f}, {r['high95']:.3f}]"),
        Column("width 68%", lambda r: number(r["width68"])),
        Column("width / truth's", lambda r: number(r["width68_over_truth"])),
        Column("coverage 68%", lambda r: number(r["coverage68"], 2)),
        Column("coverage 95%", lambda r: number(r["coverage95"], 2)),
        Column("θ̂ (mean ± std)", lambda r: f"{r['theta_hat_mean']:.3f} ± {r['theta_hat_std']:.3f}"),
    ]
    note = (
        f"Expected intervals of pseudo-experiments of {events} events (Δ(−2 ln r) < 1 and 3.84); coverage: the "
        "fraction of pseudo-experiments whose interval holds θ_true."
    )
    write_table(rows, columns, csv=csv, md=md, html=html, csv_keys=INTERVAL_KEYS, note=note)


def task_metrics(
    inference: Mapping[str, Any],
    validation: Mapping[str, Any],
    gold: Mapping[str, Any],
    display_names: Mapping[str, str],
) -> dict[str, Any]:
    """The task's ``metrics.json``.

    Per estimator the mean interval widths and coverages over the θ_true samples, the value of gold (CARL's and
    the histogram's 68% width over each estimator's), the same ratio for the truth reference's width (``truth``:
    below 1 for an estimator wider than the truth, above 1 for a narrower one) and the weight validation.
    """
    estimators = {}
    for name, per_theta in inference["results"].items():
        results = list(per_theta.values())
        estimators[name] = {
            key: float(np.mean([r[key] for r in results]))
            for key in ("width68", "width95", "coverage68", "coverage95", "theta_hat_std")
        }
    gain = {}
    for reference in ("truth", "histogram", "carl"):
        if reference in estimators:
            gain[reference] = {
                name: estimators[reference]["width68"] / m["width68"] if m["width68"] > 0 else None
                for name, m in estimators.items()
            }
    return {
        "display_names": {name: display_names.get(name, name) for name in estimators},
        "estimators": estimators,
        "width_gain": gain,
        "events_per_experiment": inference["events"],
        "experiments": inference["experiments"],
        "theta_true": sorted({r["theta_true"] for per in inference["results"].values() for r in per.values()}),
        "validation": {
            "chi2_ndf": validation["chi2_ndf"],
            "min_p_value": validation["min_p_value"],
            "per_sample": {
                theta: {obs: {"chi2": c["chi2"], "ndf": c["ndf"], "p_value": c["p_value"]} for obs, c in per.items()}
                for theta, per in validation["theta"].items()
            },
        },
        "gold": dict(gold),
    }
