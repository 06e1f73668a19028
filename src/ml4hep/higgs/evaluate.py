"""Evaluation of the SM H->tautau classifiers on the test split: weighted ROC/AUC and AMS with bootstrap errors.

The AMS threshold of each classifier is the one that maximises the AMS on the validation split (weights scaled to the
full expected yield); the AMS reported is that of the test split at that threshold, as in the HiggsML challenge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.higgs.classifiers import CLASSIFIERS
from ml4hep.higgs.dataset import process_mask, read_columns, select_events
from ml4hep.io import write_json
from ml4hep.metrics import ams, ams_curve, auc, bootstrap
from ml4hep.models.scores import read_scores
from ml4hep.tables import Column, number, with_error, write_table

DISPLAY_NAMES = CLASSIFIERS.display_names()


def best_ams_threshold(
    labels: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    regularisation: float,
    min_signal_efficiency: float = 0.1,
) -> float:
    """The score threshold maximising the AMS (select score >= threshold).

    Thresholds keeping less than ``min_signal_efficiency`` of the signal weight are not considered, so that on a
    small validation split the threshold is not tuned to a handful of events.
    """
    thresholds, values = ams_curve(labels, scores, weights, regularisation)
    signal_weight = np.where(labels == 1, weights, 0.0)
    order = np.argsort(-scores, kind="stable")
    last_kept = np.searchsorted(-scores[order], -thresholds, side="right") - 1
    kept = np.cumsum(signal_weight[order])[last_kept]
    allowed = kept >= min_signal_efficiency * signal_weight.sum()
    return float(thresholds[allowed][int(np.argmax(values[allowed]))])


def selected_ams(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, threshold: float, regularisation: float
) -> float:
    """AMS of the selection score >= threshold."""
    passed = scores >= threshold
    return float(ams(weights[passed & (labels == 1)].sum(), weights[passed & (labels == 0)].sum(), regularisation))


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
) -> dict[str, Any]:
    """AUC and AMS of every classifier on the test split.

    Args:
        splits: ``val`` and ``test`` dataset files.
        scores: Classifier -> scores file (val and test scores of the SM events).
        heavy: Heavy-Higgs sample names (not part of the SM classification).
        regularisation: AMS b_r.
        n_bootstrap: Bootstrap resamples of the test events.
        seed: Seed of the bootstrap.

    Returns:
        ``auc.{name}``, ``ams.{name}`` (+ ``_err``), thresholds and yields.
    """
    val, test = (sm_events(splits[name], heavy) for name in ("val", "test"))
    result: dict[str, Any] = {"auc": {}, "auc_err": {}, "ams": {}, "ams_err": {}, "threshold": {}, "selected": {}}
    for name, path in scores.items():
        val_scores, test_scores = read_scores(path, "val"), read_scores(path, "test")
        threshold = best_ams_threshold(val["label"], val_scores, val["weight"], regularisation)
        value, error = bootstrap(
            lambda y, s, w: auc(y, s, w), [test["label"], test_scores, test["weight"]], n_bootstrap, seed
        )
        result["auc"][name], result["auc_err"][name] = value, error
        value, error = bootstrap(
            lambda y, s, w, cut=threshold: selected_ams(y, s, w, cut, regularisation),
            [test["label"], test_scores, test["weight"]],
            n_bootstrap,
            seed,
        )
        result["ams"][name], result["ams_err"][name] = value, error
        result["threshold"][name] = threshold
        passed = test_scores >= threshold
        result["selected"][name] = {
            "signal": float(test["weight"][passed & (test["label"] == 1)].sum()),
            "background": float(test["weight"][passed & (test["label"] == 0)].sum()),
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
            "signal": metrics["selected"][name]["signal"],
            "background": metrics["selected"][name]["background"],
        }
        for name in metrics["auc"]
    ]
    columns = [
        Column("Classifier", lambda r: DISPLAY_NAMES.get(r["classifier"], r["classifier"]), align="l"),
        Column("AUC", lambda r: with_error(r["auc"], r["auc_err"], 4)),
        Column("AMS", lambda r: with_error(r["ams"], r["ams_err"], 2)),
        Column("s", lambda r: number(r["signal"], 4), latex="$s$"),
        Column("b", lambda r: number(r["background"], 4), latex="$b$"),
    ]
    write_table(
        rows,
        columns,
        csv=csv_path,
        md=md_path,
        tex=tex_path,
        note="s, b: expected signal and background events selected at the validation-optimal threshold.",
    )


def write_metrics(path: str | Path, content: Mapping[str, Any]) -> None:
    """Write a metrics dictionary as JSON (non-finite numbers as null)."""
    write_json(path, dict(content))
