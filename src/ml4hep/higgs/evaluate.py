"""Evaluation of the SM H->tautau classifiers on the test split: weighted ROC/AUC and AMS with bootstrap errors.

The AMS threshold of each classifier is the one that maximises the AMS on the validation split (weights scaled to the
full expected yield); the AMS reported is that of the test split at that threshold, as in the HiggsML challenge. The
scan admits only thresholds that keep at least ``higgs.ams.min_background_events`` background MC events and
``higgs.ams.min_background_yield`` expected background events: a cut that keeps a handful of background events has an
AMS driven by their weights, not by the classifier. The AMS error is the bootstrap spread of the whole procedure:
validation and test events are resampled, the threshold is chosen again on each resampled validation split and the
AMS taken on the resampled test split (the scores, i.e. the trained classifiers, are held fixed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.higgs.classifiers import CLASSIFIERS
from ml4hep.higgs.dataset import process_mask, read_columns, select_events
from ml4hep.io import write_json
from ml4hep.metrics import ams, auc, bootstrap, bootstrap_values, selection_scan, spread
from ml4hep.models.scores import read_scores
from ml4hep.tables import Column, number, with_error, write_table

DISPLAY_NAMES = CLASSIFIERS.display_names()


def best_ams_threshold(
    labels: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    regularisation: float,
    min_signal_efficiency: float = 0.1,
    min_background_events: int = 0,
    min_background_yield: float = 0.0,
) -> float:
    """The score threshold maximising the AMS (select score >= threshold) among the admitted ones.

    A threshold is admitted when it keeps at least ``min_signal_efficiency`` of the signal weight, at least
    ``min_background_events`` background MC events and at least ``min_background_yield`` expected background events,
    so that the threshold is not tuned to a handful of events. When none is admitted, the loosest threshold (which
    keeps the most of everything) is taken.

    Example:
        >>> y, w = np.array([1, 1, 1, 0, 1, 0, 0, 0]), np.ones(8)
        >>> s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
        >>> best_ams_threshold(y, s, w, 1.0), best_ams_threshold(y, s, w, 1.0, min_background_events=2)
        (0.5, 0.4)
    """
    scan = selection_scan(labels, scores, weights)
    values = ams(scan["signal"], scan["background"], regularisation)
    allowed = (
        (scan["signal"] >= min_signal_efficiency * np.where(labels == 1, weights, 0.0).sum())
        & (scan["background_events"] >= min_background_events)
        & (scan["background"] >= min_background_yield)
    )
    if not allowed.any():
        return float(scan["threshold"][-1])
    return float(scan["threshold"][allowed][int(np.argmax(values[allowed]))])


def selected_ams(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, threshold: float, regularisation: float
) -> float:
    """AMS of the selection score >= threshold."""
    passed = scores >= threshold
    return float(ams(weights[passed & (labels == 1)].sum(), weights[passed & (labels == 0)].sum(), regularisation))


def validated_ams(
    val_labels: np.ndarray,
    val_scores: np.ndarray,
    val_weights: np.ndarray,
    test_labels: np.ndarray,
    test_scores: np.ndarray,
    test_weights: np.ndarray,
    regularisation: float,
    selection: Mapping[str, float],
) -> float:
    """The test AMS at the threshold chosen on validation (what the bootstrap redoes on each resample)."""
    threshold = best_ams_threshold(val_labels, val_scores, val_weights, regularisation, **selection)
    return selected_ams(test_labels, test_scores, test_weights, threshold, regularisation)


EVALUATION_COLUMNS = ("label", "weight", "process", "process_names")
"""What the evaluation reads of a split file (not the features)."""


def sm_events(path: str | Path, heavy: Sequence[str]) -> dict[str, np.ndarray]:
    """Labels, weights and processes of the SM events of a split (the features are not read)."""
    columns = read_columns(path, EVALUATION_COLUMNS)
    return select_events(columns, ~process_mask(columns, heavy))


def evaluate_classifiers(
    splits: Mapping[str, str | Path],
    scores: Mapping[str, str | Path],
    heavy: Sequence[str],
    regularisation: float,
    n_bootstrap: int,
    seed: int,
    selection: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """AUC and AMS of every classifier on the test split.

    Args:
        splits: ``val`` and ``test`` dataset files.
        scores: Classifier -> scores file (val and test scores of the SM events).
        heavy: Heavy-Higgs sample names (not part of the SM classification).
        regularisation: AMS b_r.
        n_bootstrap: Bootstrap resamples (of the test events for the AUC, of validation and test for the AMS).
        seed: Seed of the bootstrap.
        selection: What the threshold scan admits (``higgs.ams``: ``min_background_events``,
            ``min_background_yield``); none: every threshold keeping 10% of the signal.

    Returns:
        ``auc.{name}``, ``ams.{name}`` (+ ``_err``: bootstrap standard deviation of the whole procedure,
        ``ams_q16``/``ams_q84``: its 16% and 84% quantiles, ``ams_err_fixed_threshold``: the spread of the test AMS
        with the threshold held fixed), thresholds and the selected yields and background MC events.
    """
    selection = dict(selection or {})
    val, test = (sm_events(splits[name], heavy) for name in ("val", "test"))
    keys = (
        "auc",
        "auc_err",
        "ams",
        "ams_err",
        "ams_q16",
        "ams_q84",
        "ams_err_fixed_threshold",
        "threshold",
        "selected",
    )
    result: dict[str, Any] = {key: {} for key in keys}
    for name, path in scores.items():
        val_scores, test_scores = read_scores(path, "val"), read_scores(path, "test")
        val_arrays = [val["label"], val_scores, val["weight"]]
        test_arrays = [test["label"], test_scores, test["weight"]]
        threshold = best_ams_threshold(*val_arrays, regularisation, **selection)
        value, error = bootstrap(lambda y, s, w: auc(y, s, w), test_arrays, n_bootstrap, seed)
        result["auc"][name], result["auc_err"][name] = value, error
        resampled = bootstrap_values(
            lambda *arrays: validated_ams(*arrays, regularisation, selection),
            [val_arrays, test_arrays],
            n_bootstrap,
            seed,
        )
        result["ams"][name] = selected_ams(*test_arrays, threshold, regularisation)
        result["ams_err"][name] = spread(resampled)
        quantiles = np.quantile(resampled, [0.16, 0.84]) if len(resampled) else (np.nan, np.nan)
        result["ams_q16"][name], result["ams_q84"][name] = (float(q) for q in quantiles)
        result["ams_err_fixed_threshold"][name] = bootstrap(
            lambda y, s, w, cut=threshold: selected_ams(y, s, w, cut, regularisation), test_arrays, n_bootstrap, seed
        )[1]
        result["threshold"][name] = threshold
        passed = test_scores >= threshold
        background = passed & (test["label"] == 0)
        result["selected"][name] = {
            "signal": float(test["weight"][passed & (test["label"] == 1)].sum()),
            "background": float(test["weight"][background].sum()),
            "background_events": int(background.sum()),
        }
    result["test_yields"] = {
        "signal": float(test["weight"][test["label"] == 1].sum()),
        "background": float(test["weight"][test["label"] == 0].sum()),
    }
    return result


def write_tables(metrics: Mapping[str, Any], csv_path: str | Path, md_path: str | Path, tex_path: str | Path) -> None:
    """Classifier table: AUC and AMS (± bootstrap) with the selected signal and background yields."""
    rows = [
        {
            "classifier": name,
            "auc": metrics["auc"][name],
            "auc_err": metrics["auc_err"][name],
            "ams": metrics["ams"][name],
            "ams_err": metrics["ams_err"][name],
            "ams_q16": metrics["ams_q16"][name],
            "ams_q84": metrics["ams_q84"][name],
            "background_events": metrics["selected"][name]["background_events"],
            "signal": metrics["selected"][name]["signal"],
            "background": metrics["selected"][name]["background"],
        }
        for name in metrics["auc"]
    ]
    columns = [
        Column("Classifier", lambda r: DISPLAY_NAMES.get(r["classifier"], r["classifier"]), align="l"),
        Column("AUC", lambda r: with_error(r["auc"], r["auc_err"], 4)),
        Column("AMS", lambda r: with_error(r["ams"], r["ams_err"], 2)),
        Column("AMS 16-84%", lambda r: f"{number(r['ams_q16'], 3)} to {number(r['ams_q84'], 3)}"),
        Column("s", lambda r: number(r["signal"], 4), latex="$s$"),
        Column("b", lambda r: number(r["background"], 4), latex="$b$"),
        Column("b MC events", lambda r: str(r["background_events"])),
    ]
    write_table(
        rows,
        columns,
        csv=csv_path,
        md=md_path,
        tex=tex_path,
        note=(
            "s, b: expected signal and background events selected at the validation-optimal threshold (b MC events:"
            " the background MC events behind b). AMS ± the bootstrap standard deviation (16-84%: its quantiles) of"
            " the whole procedure: validation and test resampled, the threshold chosen again on each resample."
        ),
    )


def write_metrics(path: str | Path, content: Mapping[str, Any]) -> None:
    """Write a metrics dictionary as JSON (non-finite numbers as null)."""
    write_json(path, dict(content))
