"""Evaluation on the test split: SUSY-AI-style accuracy/coverage table, speed-up, exclusion maps, metrics.json.

* accuracy overall, and accuracy and coverage (fraction of points) among the points with confidence >= 0.68, 0.90,
  0.95, 0.99, per classifier, next to the majority-class guess; the confidence calibrated on the validation split as
  SUSY-AI's (:mod:`ml4hep.susy.confidence`), and the raw |2P - 1| beside it; SUSY-AI's like-for-like forest on the 19
  parameters (``rf_parameters``) first;
* time per point of each classifier (batch over the test split, and one point at a time, inputs computed from the 19
  parameters included) and of the recast (re-run here on ``timing_points`` test points), so the speed-up is measured
  in the same run;
* exclusion maps in (m_gluino, m_chi10), (m_squark, m_chi10), (m_stop1, m_chi10), (m_chi1+-, m_chi10): the fraction
  of points excluded per bin by the recast and by one classifier, their 50% contours, misclassified points marked;
  a table of the excluded fraction per mass bin of each plane.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ml4hep.io import write_json
from ml4hep.susy.classifiers import CLASSIFIERS, classifier_inputs, features, load_calibration, p_allowed
from ml4hep.susy.confidence import CONFIDENCE_LEVELS, Calibration, confidence_table, level_key
from ml4hep.susy.grid import grid_overrides
from ml4hep.susy.recast import label_points
from ml4hep.susy.scan import PARAMETERS
from ml4hep.tables import Column, number, write_table

if TYPE_CHECKING:
    from ml4hep.susy.toys import ToyCLs

log = logging.getLogger(__name__)

PLANES: dict[str, tuple[str, str]] = {
    "gluino": ("m_gluino", r"$m_{\tilde g}$"),
    "squark": ("m_squark", r"$m_{\tilde q}$ (mean, 1st/2nd gen.)"),
    "stop": ("m_st1", r"$m_{\tilde t_1}$"),
    "chargino": ("m_chi1p", r"$m_{\tilde\chi^\pm_1}$"),
}
"""Map name -> (x mass column, axis label); the y axis is the LSP mass m_chi10."""

DISPLAY = {**CLASSIFIERS.display_names(), "majority": "Majority class"}


KINDS = ("accuracy", "coverage")

PER_POINT = ("p_allowed", "calibrated_confidence")
"""Per-point arrays of a classifier's results (for the figures, not the tables)."""


def _scalars(result: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key not in PER_POINT}


def time_classifier(
    predictor: Any, points: Mapping[str, np.ndarray], inputs: str, single: int = 50
) -> dict[str, float]:
    """Seconds per point of a classifier, inputs from the 19 parameters included: batch and one at a time."""
    start = time.perf_counter()
    p_allowed(predictor, features(points, inputs))
    n = len(points[PARAMETERS[0]])
    batch = (time.perf_counter() - start) / n
    k = min(single, n)
    start = time.perf_counter()
    for i in range(k):
        p_allowed(predictor, features({p: points[p][i : i + 1] for p in PARAMETERS}, inputs))
    return {"batch": batch, "single": (time.perf_counter() - start) / max(k, 1)}


def excluded_fraction_maps(
    x: np.ndarray, y: np.ndarray, excluded: np.ndarray, bins: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Excluded fraction per (x, y) bin (NaN where empty) and the counts."""
    counts, _, _ = np.histogram2d(x, y, bins=bins)
    hits, _, _ = np.histogram2d(x, y, bins=bins, weights=excluded.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / counts, np.nan), counts


def map_edges(values: np.ndarray, nbins: int) -> np.ndarray:
    """``nbins`` equal bins from the smallest to the largest finite value (one GeV wide if they are equal)."""
    low, high = np.nanmin(values), np.nanmax(values)
    return np.linspace(low, high if high > low else low + 1.0, nbins + 1)


def fraction_rows(test: Mapping[str, np.ndarray], predicted_excluded: np.ndarray, nbins: int) -> list[dict[str, Any]]:
    """Excluded fraction by the recast and by the classifier per bin of the x-axis mass of every map plane."""
    true_excluded = test["allowed"] == 0
    y = test["m_chi10"]
    rows: list[dict[str, Any]] = []
    for mass, _ in PLANES.values():
        x = test[mass]
        finite = np.isfinite(x) & np.isfinite(y)
        edges = map_edges(x[finite], nbins)
        counts, _ = np.histogram(x[finite], bins=edges)
        true_hits, _ = np.histogram(x[finite], bins=edges, weights=true_excluded[finite].astype(float))
        pred_hits, _ = np.histogram(x[finite], bins=edges, weights=predicted_excluded[finite].astype(float))
        for low, high, n, t, p in zip(edges[:-1], edges[1:], counts, true_hits, pred_hits, strict=True):
            rows.append(
                {
                    "plane": f"{mass} vs m_chi10",
                    "bin": f"{mass} {low:.0f}-{high:.0f} GeV",
                    "mass": mass,
                    "low_gev": float(low),
                    "high_gev": float(high),
                    "points": int(n),
                    "fraction_true": float(t / n) if n else float("nan"),
                    "fraction_predicted": float(p / n) if n else float("nan"),
                }
            )
    return rows


def evaluate(
    test_path: str | Path,
    models: Mapping[str, str | Path],
    infos: Mapping[str, str | Path],
    inputs: str,
    recast: Mapping[str, Any],
    options: Mapping[str, Any],
    dataset_summary: Mapping[str, Any],
    outputs: Mapping[str, Any],
    grid: str | Path | None = None,
    grid_summary: Mapping[str, Any] | None = None,
    toys: ToyCLs | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Evaluate every classifier on the test split and write the tables and ``metrics.json``.

    The figures are drawn by the caller from the returned arrays (:mod:`ml4hep.plots.susy`).

    Args:
        test_path: Test split (``.npz``).
        models: Classifier name -> model file (tables and figures in this order: ``rf_parameters`` first).
        infos: Classifier name -> its ``_info.json`` (the confidence calibration on the validation split).
        inputs: ``parameters`` or ``parameters_and_masses``.
        recast: The recast config (``luminosity_fb``, ``signal_regions``, ``min_signal_events``, ``xsec_order``).
        options: ``timing_points``, ``map_classifier``, ``map_bins``.
        dataset_summary: The dataset summary (counts, excluded fraction).
        outputs: ``metrics``, ``accuracy_{csv,md,tex}``, ``fractions_{csv,md,tex}``.
        grid: The Pythia8 efficiency grid when the recast uses it (the timing re-run then uses it too), or None.
        grid_summary: The grid's comparison with the parametrisation, copied into the metrics.
        toys: The toy CLs the labels used (the timing re-run uses them too), or None.

    Returns:
        The metrics, and what the figures need: ``test`` (the split), ``results`` (per classifier, with its
        ``p_allowed``), ``map_classifier`` and ``predicted_excluded`` (its prediction on the test points).
    """
    from ml4hep.susy.classifiers import load_split

    test = load_split(test_path)
    points = {p: test[p] for p in PARAMETERS}
    results: dict[str, dict[str, Any]] = {}
    for name, path in models.items():
        predictor = CLASSIFIERS.load(name, path)
        own_inputs = classifier_inputs(name, inputs)
        allowed_probability = p_allowed(predictor, features(test, own_inputs))
        calibration = load_calibration(infos[name])
        timing = time_classifier(predictor, points, own_inputs)
        results[name] = {
            "p_allowed": allowed_probability,
            "calibrated_confidence": calibration(allowed_probability),
            **confidence_table(test["allowed"], allowed_probability, calibration),
            "inputs": own_inputs,
            "seconds_per_point_batch": timing["batch"],
            "seconds_per_point_single": timing["single"],
        }
        log.info(
            "%s: accuracy %.4f, at calibrated confidence >= 0.95: %.4f on %.1f%% of the points (raw |2P-1|: %.4f on "
            "%.1f%%)",
            name,
            results[name]["accuracy"],
            results[name]["accuracy_conf95"],
            100 * results[name]["coverage_conf95"],
            results[name]["accuracy_raw_conf95"],
            100 * results[name]["coverage_raw_conf95"],
        )
    fraction_allowed = float(dataset_summary["train_fraction_allowed"])
    majority = int(fraction_allowed >= 0.5)  # the class a guesser learns in training
    # a constant guess is one bin: its calibrated confidence is its training accuracy
    n_train = int(dataset_summary.get("splits", {}).get("train", 0))
    right = max(fraction_allowed, 1 - fraction_allowed) * n_train
    guess = Calibration(np.array([0.0, 1.0]), np.array([right]), np.array([n_train]))
    baseline = confidence_table(test["allowed"], np.full(len(test["allowed"]), float(majority)), guess)

    k = min(int(options["timing_points"]), len(test["allowed"]))
    start = time.perf_counter()
    relabel = label_points(
        {p: v[:k] for p, v in points.items()},
        recast["signal_regions"],
        recast["luminosity_fb"],
        recast["min_signal_events"],
        recast["xsec_order"],
        overrides=grid_overrides(grid),
        toys=toys,
    )
    recast_seconds = (time.perf_counter() - start) / max(k, 1)
    agree = float(np.mean((relabel["excluded"] == 1) == (test["allowed"][:k] == 0))) if k else float("nan")

    rows = [{"classifier": name, **_scalars(r)} for name, r in results.items()]
    rows.append({"classifier": "majority", **baseline})
    keys = [
        "accuracy",
        *[f"{kind}_{raw}{level_key(c)}" for raw in ("", "raw_") for c in CONFIDENCE_LEVELS for kind in KINDS],
    ]
    columns = [
        Column("Classifier", lambda r: DISPLAY.get(r["classifier"], r["classifier"]), align="l"),
        Column("Accuracy", lambda r: number(r["accuracy"], 4)),
    ]
    for c in CONFIDENCE_LEVELS:
        key = level_key(c)
        columns += [
            Column(f"Acc. (conf ≥ {c:g})", lambda r, k=key: number(r[f"accuracy_{k}"], 4)),
            Column(f"Cov. (conf ≥ {c:g})", lambda r, k=key: number(r[f"coverage_{k}"], 3)),
        ]
    columns += [
        Column("Acc. (|2P−1| ≥ 0.95)", lambda r: number(r["accuracy_raw_conf95"], 4)),
        Column("Cov. (|2P−1| ≥ 0.95)", lambda r: number(r["coverage_raw_conf95"], 3)),
    ]
    write_table(
        rows,
        columns,
        csv=outputs["accuracy_csv"],
        md=outputs["accuracy_md"],
        tex=outputs["accuracy_tex"],
        csv_keys=["classifier", "inputs", *keys, "seconds_per_point_batch", "seconds_per_point_single"],
        note=f"Test split, {len(test['allowed'])} points; confidence = the validation accuracy of the point's bin of "
        "P(allowed) (calibrated as SUSY-AI's), |2P−1| the raw one; coverage = fraction of the points at or above "
        "the confidence. The 19-parameter forest is SUSY-AI's set-up (like for like).",
    )

    map_classifier = options["map_classifier"] if options["map_classifier"] in results else next(iter(results))
    predicted_excluded = results[map_classifier]["p_allowed"] < 0.5
    bins_rows = fraction_rows(test, predicted_excluded, int(options["map_bins"]))
    write_table(
        bins_rows,
        [
            Column("Plane", "plane", align="l"),
            Column("Mass bin [GeV]", lambda r: f"{r['low_gev']:.0f}–{r['high_gev']:.0f}"),
            Column("Points", "points", align="r"),
            Column("Excluded (recast)", lambda r: number(r["fraction_true"], 3)),
            Column(
                f"Excluded ({DISPLAY.get(map_classifier, map_classifier)})",
                lambda r: number(r["fraction_predicted"], 3),
            ),
        ],
        csv=outputs["fractions_csv"],
        md=outputs["fractions_md"],
        tex=outputs["fractions_tex"],
        csv_keys=["plane", "bin", "mass", "low_gev", "high_gev", "points", "fraction_true", "fraction_predicted"],
        note="Fraction of the test points excluded per bin of the x-axis mass of each plane.",
    )

    classifier_seconds = results[map_classifier]["seconds_per_point_batch"]
    metrics = {
        "display_names": {name: DISPLAY.get(name, name) for name in results},
        "classifiers": {name: _scalars(r) for name, r in results.items()},
        "headline_classifier": next(iter(results)),
        "confidence": "calibrated on the validation split (accuracy per P(allowed) bin, SUSY-AI); *_raw_* keys: "
        "|2P - 1|",
        "majority_class": {"accuracy": baseline["accuracy"], "class": "allowed" if majority else "excluded"},
        "fraction_excluded": float(np.mean(test["allowed"] == 0)),
        "fraction_excluded_all_labelled": dataset_summary.get("fraction_excluded"),
        "seconds_per_point": {
            "recast": recast_seconds,
            "classifier": classifier_seconds,
            "classifier_name": map_classifier,
            "classifier_single": results[map_classifier]["seconds_per_point_single"],
            "recast_label_jobs": dataset_summary.get("recast_seconds_per_point"),
            "recast_points_timed": k,
        },
        "speedup": recast_seconds / classifier_seconds if classifier_seconds > 0 else None,
        "speedup_single": (
            recast_seconds / results[map_classifier]["seconds_per_point_single"]
            if results[map_classifier]["seconds_per_point_single"] > 0
            else None
        ),
        "recast_reproducible_fraction": agree,
        "points": {
            k2: dataset_summary.get(k2)
            for k2 in (
                "points_scanned",
                "labelled",
                "left_out_non_neutralino_lsp",
                "lsp_types",
                "splits",
                "best_region_counts",
            )
        },
        "map_classifier": map_classifier,
        "inputs": inputs,
        "efficiency_grid": dict(grid_summary or {}, used_in_recast=grid is not None),
        "toys": {
            "regions": toys.regions() if toys is not None else [],
            "cls_from_toys": dataset_summary.get("cls_from_toys"),
            "labels_changed_by_toys": dataset_summary.get("labels_changed_by_toys"),
        },
    }
    write_json(outputs["metrics"], metrics)
    return metrics, {
        "test": test,
        "results": results,
        "map_classifier": map_classifier,
        "predicted_excluded": predicted_excluded,
    }
