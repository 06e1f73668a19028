"""Mass resolution of the di-tau mass estimators: definitions, the table and what the render step reads.

Figures of merit, per estimator (``regressed`` = the DNN regression of :mod:`ml4hep.higgs.regression`,
``visible`` = ``DER_mass_vis``, ``collinear`` = ``DER_mass_collinear``), on events with a finite true mass,
unweighted:

* response ``r = m_estimate / m_true``;
* bias ``= median(r) - 1``;
* relative resolution ``= (IQR(r) / 2) / median(r)``, IQR = 75th - 25th percentile (linear interpolation, numpy's
  default), i.e. the half-width of the central 50% of the response in units of its median (for a Gaussian response,
  0.674 sigma / mean);
* events where an estimator is undefined (-999 or not finite; only the collinear mass can be) are counted
  (``n_undefined``). The estimators are compared on the same events: the table and the headline numbers use the
  events where every estimator is defined (``n_used`` is the same for all of them), so that the collinear mass,
  undefined where the neutrinos cannot be collinear, is not credited with the easier events alone.

This module imports no torch: the render rule (``higgs_regression_plots``) reads the regression's outputs with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.chunked import read_column
from ml4hep.higgs.dataset import opened_split
from ml4hep.higgs.features import UNDEFINED
from ml4hep.models.scores import read_scores
from ml4hep.tables import Column, write_table

ESTIMATORS = ("regressed", "visible", "collinear")
ESTIMATOR_COLUMNS = {"visible": "DER_mass_vis", "collinear": "DER_mass_collinear"}
DISPLAY_NAMES = {"regressed": "DNN regression", "visible": "Visible mass", "collinear": "Collinear mass"}
TABLE_COLUMNS = (
    "bin",
    "bin_low",
    "bin_high",
    "estimator",
    "n_used",
    "n_undefined",
    "median_response",
    "bias",
    "resolution",
)


def defined(estimate: np.ndarray) -> np.ndarray:
    """Where a mass estimate is defined (finite and not -999)."""
    estimate = np.asarray(estimate, dtype=np.float64)
    return np.isfinite(estimate) & (estimate != UNDEFINED)


def common_events(estimates: Mapping[str, np.ndarray]) -> np.ndarray:
    """Events where every estimator is defined (the events the estimators are compared on)."""
    masks = [defined(estimate) for estimate in estimates.values()]
    return np.logical_and.reduce(masks) if masks else np.zeros(0, dtype=bool)


def has_truth(split: Mapping[str, np.ndarray]) -> np.ndarray:
    """Events with a usable true di-tau mass (finite and positive)."""
    truth = np.asarray(split["truth_mass"], dtype=np.float64)
    return np.isfinite(truth) & (truth > 0)


def overall_resolution(truth: np.ndarray, estimate: np.ndarray) -> dict[str, float | int]:
    """Response, bias and relative resolution of one mass estimator (definitions in the module docstring).

    Args:
        truth: True masses; events where it is not finite and positive are ignored (not counted).
        estimate: Estimated masses, -999 or non-finite where the estimator is undefined.

    Returns:
        ``n_used``, ``n_undefined`` (events with a true mass but no estimate), ``median_response``, ``bias``,
        ``resolution``, ``q25_response``, ``q75_response``; NaN statistics when no event is used.
    """
    truth = np.asarray(truth, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    valid = np.isfinite(truth) & (truth > 0)
    used = valid & defined(estimate)
    out: dict[str, float | int] = {"n_used": int(used.sum()), "n_undefined": int((valid & ~used).sum())}
    if not used.any():
        return {
            **out,
            "median_response": math.nan,
            "bias": math.nan,
            "resolution": math.nan,
            "q25_response": math.nan,
            "q75_response": math.nan,
        }
    response = estimate[used] / truth[used]
    q25, median, q75 = (float(v) for v in np.percentile(response, [25.0, 50.0, 75.0]))
    resolution = (q75 - q25) / 2.0 / median if median != 0 else math.nan
    return {
        **out,
        "median_response": median,
        "bias": median - 1.0,
        "resolution": resolution,
        "q25_response": q25,
        "q75_response": q75,
    }


def distinct_resonances(resonance_masses: np.ndarray) -> np.ndarray:
    """The distinct generated resonance masses, increasing (values <= 0, e.g. ttbar's 0, and NaN ignored)."""
    masses = np.asarray(resonance_masses, dtype=np.float64)
    return np.unique(np.round(masses[np.isfinite(masses) & (masses > 0)], 6))


def mass_bins(resonance_masses: np.ndarray) -> np.ndarray:
    """True-mass bin edges with one bin per distinct resonance mass.

    The inner edges are the geometric means of neighbouring resonance masses (e.g. 106.8 GeV between the Z and the
    125 GeV Higgs), the outer edges 0 and +inf, so each process falls (apart from its tails) in its own bin.

    Args:
        resonance_masses: Generated resonance masses (values <= 0, e.g. ttbar's 0, and NaN are ignored).

    Returns:
        Increasing edges, one more than the number of distinct masses (``[0, inf]`` when there is none).
    """
    distinct = distinct_resonances(resonance_masses)
    inner = np.sqrt(distinct[:-1] * distinct[1:])
    return np.concatenate([[0.0], inner, [np.inf]])


def bin_labels(bins: np.ndarray, nominal: Sequence[float] | None = None) -> list[str]:
    """Readable names of the bins in GeV (``<106.8``, ``106.8-212.1``, ``>=212.1``).

    Args:
        bins: Bin edges.
        nominal: Optional mass per bin (e.g. the resonance masses of :func:`mass_bins`), put in front:
            ``125 (106.8-212.1)``.

    Returns:
        One label per bin.
    """
    labels = []
    for number, (low, high) in enumerate(zip(bins[:-1], bins[1:], strict=True)):
        if low <= 0 and not np.isfinite(high):
            text = "all"
        elif low <= 0:
            text = f"<{high:.1f}"
        elif not np.isfinite(high):
            text = f">={low:.1f}"
        else:
            text = f"{low:.1f}-{high:.1f}"
        labels.append(text if nominal is None else f"{nominal[number]:.4g} ({text})")
    return labels


def resolution_table(
    truth: np.ndarray,
    estimates: Mapping[str, np.ndarray],
    bins: Sequence[float] | np.ndarray,
    labels: Sequence[str] | None = None,
    same_events: bool = True,
) -> list[dict[str, Any]]:
    """Bias and relative resolution of every estimator in bins of the true mass.

    Args:
        truth: True masses (events without one are ignored).
        estimates: Estimator name -> masses (-999 where undefined), aligned with ``truth``.
        bins: True-mass bin edges (``low <= truth < high``), e.g. :func:`mass_bins`.
        labels: Name of each bin in the ``bin`` column (default :func:`bin_labels`).
        same_events: Compare the estimators on the events where all of them are defined (:func:`common_events`);
            ``n_undefined`` counts, per estimator, the events of the bin where it is undefined. False: each
            estimator on its own defined events.

    Returns:
        One row per bin and estimator (bins outer, estimators in the given order), keys :data:`TABLE_COLUMNS`
        (``bin`` a readable label, ``bin_low``/``bin_high`` the edges in GeV) plus ``q25_response``/``q75_response``.
    """
    truth = np.asarray(truth, dtype=np.float64)
    edges = np.asarray(bins, dtype=np.float64)
    common = common_events(estimates) if same_events else np.ones(len(truth), dtype=bool)
    rows = []
    names = bin_labels(edges) if labels is None else list(labels)
    for label, low, high in zip(names, edges[:-1], edges[1:], strict=True):
        inside = (truth >= low) & (truth < high)
        for name, estimate in estimates.items():
            estimate = np.asarray(estimate, dtype=np.float64)
            stats = overall_resolution(truth[inside & common], estimate[inside & common])
            stats["n_undefined"] = int((inside & np.isfinite(truth) & (truth > 0) & ~defined(estimate)).sum())
            rows.append({"bin": label, "bin_low": float(low), "bin_high": float(high), "estimator": name, **stats})
    return rows


def estimator_masses(split: Mapping[str, np.ndarray], regressed: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The mass estimators of a split: ``regressed`` (if given), ``visible``, ``collinear`` (-999 where undefined)."""
    names = [str(n) for n in split["feature_names"]]
    out = {} if regressed is None else {"regressed": np.asarray(regressed, dtype=np.float64)}
    for name, column in ESTIMATOR_COLUMNS.items():
        out[name] = np.asarray(split["X"][:, names.index(column)], dtype=np.float64)
    return out


def write_resolution_table(
    rows: Sequence[Mapping[str, Any]], csv_path: str | Path, md_path: str | Path, tex_path: str | Path | None = None
) -> None:
    """Write the resolution table as CSV (every column of :data:`TABLE_COLUMNS`), Markdown and LaTeX."""
    columns = [
        Column("True mass [GeV]", "bin", align="l"),
        Column("Estimator", lambda r: DISPLAY_NAMES.get(r["estimator"], r["estimator"]), align="l"),
        Column("Events", "n_used", align="r"),
        Column("Undefined", "n_undefined", align="r"),
        Column("Median response", lambda r: f"{r['median_response']:.3f}"),
        Column("Bias", lambda r: f"{r['bias']:+.3f}"),
        Column("Resolution", lambda r: f"{r['resolution']:.3f}"),
    ]
    write_table(
        rows,
        columns,
        csv=csv_path,
        md=md_path,
        tex=tex_path,
        csv_keys=TABLE_COLUMNS,
        note="Response r = m_estimate / m_true; bias = median(r) - 1; resolution = (IQR(r) / 2) / median(r). "
        "All estimators on the same events (those where every estimator is defined); Undefined: events of the bin "
        "where that estimator is -999.",
    )


def table_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resolution-table rows of the metrics JSON of the regression (:mod:`ml4hep.higgs.regression`).

    JSON has no infinity nor NaN: the open upper edge of the last bin, written as null, is read back as infinity, and
    the other nulls (statistics of an empty bin) as NaN.
    """

    def restore(key: str, value: Any) -> Any:
        if value is not None or key in ("bin", "estimator"):
            return value
        return math.inf if key == "bin_high" else math.nan

    return [{key: restore(key, value) for key, value in row.items()} for row in metrics["table"]]


def metrics_bins(metrics: Mapping[str, Any]) -> np.ndarray:
    """The true-mass bin edges of the regression's metrics JSON (null read back as infinity)."""
    return np.array([math.inf if edge is None else edge for edge in metrics["bins"]], dtype=np.float64)


def estimator_columns(split: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What :func:`resolution_summary` reads of a split, the features read column by column.

    That is the true and resonance masses and, as ``X``, only the feature columns of the mass estimators
    (:data:`ESTIMATOR_COLUMNS`).
    """
    names = [str(n) for n in split["feature_names"]]
    columns = list(ESTIMATOR_COLUMNS.values())
    return {
        "X": np.column_stack([read_column(split, "X", names.index(column)) for column in columns]),
        "feature_names": np.array(columns),
        "truth_mass": np.asarray(split["truth_mass"]),
        "resonance_mass": np.asarray(split["resonance_mass"]),
    }


def estimates_on_test(test_path: str | Path, predictions_path: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """True mass and every estimator's mass on the test events that the table compares (what the figure shows).

    Args:
        test_path: Test split of the event table.
        predictions_path: The regression's predictions (a scores file, :mod:`ml4hep.models.scores`: the regressed
            mass in GeV of every event).

    Returns:
        (true masses, estimator name -> masses), aligned, on the events with a true mass where every estimator is
        defined.
    """
    with opened_split(test_path) as test:
        columns = estimator_columns(test)
    truth, estimates = test_estimates(columns, read_scores(predictions_path, "test"))
    common = common_events(estimates)
    return truth[common], {name: estimate[common] for name, estimate in estimates.items()}


def test_estimates(test: Mapping[str, np.ndarray], regressed: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """True mass and every estimator's mass of the events of ``test`` with a true mass (-999 where undefined)."""
    valid = has_truth(test)
    truth = np.asarray(test["truth_mass"], dtype=np.float64)[valid]
    return truth, {name: values[valid] for name, values in estimator_masses(test, regressed).items()}


def resolution_summary(test: Mapping[str, np.ndarray], regressed: np.ndarray) -> dict[str, Any]:
    """The resolution metrics of the test split (what the regression's metrics JSON holds besides its training).

    Args:
        test: The test split (columns of :mod:`ml4hep.higgs.dataset`).
        regressed: The regressed mass of every test event.

    Returns:
        ``resolution_{regressed,visible,collinear}``, ``bias_{...}`` (all estimators on the same events: those with
        a true mass where every estimator is defined), ``n_test`` (events with a true mass), ``n_compared`` (of
        them, those compared), ``n_undefined_collinear``, ``table`` (rows of the resolution table: per true-mass
        bin, :func:`mass_bins` of the test resonance masses, and estimator, then the overall rows, bin ``all``) and
        ``bins`` (the true-mass bin edges).
    """
    truth, estimates = test_estimates(test, regressed)
    resonance = np.asarray(test["resonance_mass"])[has_truth(test)]
    bins = mass_bins(resonance)
    resonances = distinct_resonances(resonance)
    labels = bin_labels(bins, resonances) if len(resonances) == len(bins) - 1 else None
    rows = resolution_table(truth, estimates, bins, labels)
    overall = resolution_table(truth, estimates, np.array([0.0, math.inf]), ["all"])
    metrics: dict[str, Any] = {}
    for row in overall:
        metrics[f"resolution_{row['estimator']}"] = row["resolution"]
        metrics[f"bias_{row['estimator']}"] = row["bias"]
    by_name = {row["estimator"]: row for row in overall}
    metrics.update(
        n_test=len(truth),
        n_compared=int(common_events(estimates).sum()),
        n_undefined_collinear=int(by_name["collinear"]["n_undefined"]),
        table=rows + overall,
        bins=[float(b) for b in bins],
    )
    return metrics
