"""Evaluation of the top taggers on the test split: metrics with bootstrap errors, ROC plot, landscape-style table."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.metrics import accuracy, auc, background_rejection, bootstrap
from ml4hep.models.scores import read_scores
from ml4hep.tables import Column, with_error, write_table
from ml4hep.toptag.preprocess import load_split
from ml4hep.toptag.taggers import TAGGERS

DISPLAY_NAMES = TAGGERS.display_names()


def best_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold (predict signal for score >= threshold) with the highest accuracy, e.g. on the validation split.

    Only thresholds between distinct score values are considered, so tied scores always get the same prediction.
    """
    order = np.argsort(scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    n = len(sorted_scores)
    # Cut position k: the k lowest scores are predicted background.
    background_below = np.concatenate([[0], np.cumsum(sorted_labels == 0)])
    signal_at_or_above = np.concatenate([np.cumsum((sorted_labels == 1)[::-1])[::-1], [0]])
    correct = background_below + signal_at_or_above
    allowed = np.ones(n + 1, dtype=bool)
    allowed[1:n] = sorted_scores[1:] != sorted_scores[:-1]
    best = int(np.flatnonzero(allowed)[np.argmax(correct[allowed])])
    return float(sorted_scores[best]) if best < n else float(np.nextafter(sorted_scores[-1], np.inf))


def _defined_or_none(value: float) -> float | None:
    """The value (an infinity included: no background passes), None when undefined (NaN)."""
    return None if math.isnan(value) else value


def evaluate_taggers(
    test_path: str | Path,
    val_path: str | Path,
    scores: Mapping[str, str | Path],
    infos: Mapping[str, str | Path],
    n_bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """Metrics of every tagger on the test split.

    Args:
        test_path: Test split features (labels).
        val_path: Validation split features (labels, for the accuracy threshold).
        scores: Tagger -> scores file.
        infos: Tagger -> training info JSON.
        n_bootstrap: Bootstrap resamples for the uncertainties.
        seed: Seed of the bootstrap.

    Returns:
        The ``metrics.json`` content: ``taggers.{name}.{auc,accuracy,r30,r50}`` (+ ``_err``) and more.
    """
    test_labels = load_split(test_path)["label"]
    val_labels = load_split(val_path)["label"]
    taggers: dict[str, Any] = {}
    for name, path in scores.items():
        val_scores, test_scores = read_scores(path, "val"), read_scores(path, "test")
        info = json.loads(Path(infos[name]).read_text())
        threshold = best_threshold(val_labels, val_scores)
        results = {
            "auc": bootstrap(lambda y, s: auc(y, s), [test_labels, test_scores], n_bootstrap, seed),
            "accuracy": bootstrap(
                lambda y, s, cut=threshold: accuracy(y, (s >= cut).astype(int)),
                [test_labels, test_scores],
                n_bootstrap,
                seed,
            ),
            "r30": bootstrap(
                lambda y, s: background_rejection(y, s, 0.3), [test_labels, test_scores], n_bootstrap, seed
            ),
            "r50": bootstrap(
                lambda y, s: background_rejection(y, s, 0.5), [test_labels, test_scores], n_bootstrap, seed
            ),
        }
        entry: dict[str, Any] = {}
        for key, (value, error) in results.items():
            entry[key] = _defined_or_none(value)
            entry[f"{key}_err"] = _defined_or_none(error)
        entry["threshold"] = threshold
        entry["parameters"] = info.get("parameters")
        entry["device"] = info.get("device")
        entry["train_seconds"] = info.get("seconds")
        for key in (
            "train_examples_per_second",
            "inference_examples_per_second",
            "onnx_max_abs_diff",
            "window",
            "best_epoch",
            "resumed_from_epoch",
        ):
            if key in info:
                entry[key] = info[key]
        taggers[name] = entry
    return {
        "display_names": {name: DISPLAY_NAMES.get(name, name) for name in taggers},
        "n_test": int(len(test_labels)),
        "n_test_signal": int(test_labels.sum()),
        "bootstrap_resamples": n_bootstrap,
        "taggers": taggers,
    }


def write_tables(metrics: Mapping[str, Any], csv_path: str | Path, md_path: str | Path, tex_path: str | Path) -> None:
    """The comparison table in the layout of arXiv:1902.09914 (AUC, accuracy, 1/εB at εS = 0.3 and 0.5, #param)."""
    keys = ["auc", "auc_err", "accuracy", "accuracy_err", "r30", "r30_err", "r50", "r50_err", "parameters"]
    rows = [{"tagger": name, **{k: m[k] for k in keys}} for name, m in metrics["taggers"].items()]
    columns = [
        Column("Tagger", lambda r: DISPLAY_NAMES.get(r["tagger"], r["tagger"]), align="l"),
        Column("AUC", lambda r: with_error(r["auc"], r["auc_err"], 4)),
        Column("Acc.", lambda r: with_error(r["accuracy"], r["accuracy_err"], 3)),
        Column(
            "1/εB (εS = 0.3)",
            lambda r: with_error(r["r30"], r["r30_err"], 1),
            latex=r"$1/\epsilon_B$ ($\epsilon_S=0.3$)",
        ),
        Column(
            "1/εB (εS = 0.5)",
            lambda r: with_error(r["r50"], r["r50_err"], 1),
            latex=r"$1/\epsilon_B$ ($\epsilon_S=0.5$)",
        ),
        Column("#Param", lambda r: "—" if r["parameters"] is None else f"{r['parameters']:,}", align="r"),
    ]
    write_table(rows, columns, csv=csv_path, md=md_path, tex=tex_path, csv_keys=["tagger", *keys])
