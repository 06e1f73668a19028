"""Evaluation of the SM H->tautau classifiers on the test split: weighted ROC/AUC and AMS with bootstrap errors.

The AMS threshold of each classifier is the one that maximises the AMS on the validation split (weights scaled to the
full expected yield); the AMS reported is that of the test split at that threshold, as in the HiggsML challenge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.higgs.dataset import load_split, process_mask, select_events
from ml4hep.io import write_json
from ml4hep.metrics import ams, ams_curve, auc, bootstrap
from ml4hep.tables import Column, number, with_error, write_table

DISPLAY_NAMES = {"cut": "Visible-mass window", "bdt": "BDT (xgboost)", "dnn": "DNN (torch)",
                 "bdt_mreg": "BDT + regressed mass"}


def best_ams_threshold(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, regularisation: float,
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


def selected_ams(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, threshold: float,
                 regularisation: float) -> float:
    """AMS of the selection score >= threshold."""
    passed = scores >= threshold
    return float(ams(weights[passed & (labels == 1)].sum(), weights[passed & (labels == 0)].sum(), regularisation))


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
    val = select_events(load_split(splits["val"]), ~process_mask(load_split(splits["val"]), heavy))
    test = select_events(load_split(splits["test"]), ~process_mask(load_split(splits["test"]), heavy))
    result: dict[str, Any] = {"auc": {}, "auc_err": {}, "ams": {}, "ams_err": {}, "threshold": {}, "selected": {}}
    for name, path in scores.items():
        with np.load(path, allow_pickle=False) as data:
            val_scores, test_scores = data["val"], data["test"]
        threshold = best_ams_threshold(val["label"], val_scores, val["weight"], regularisation)
        value, error = bootstrap(lambda y, s, w: auc(y, s, w), [test["label"], test_scores, test["weight"]],
                                 n_bootstrap, seed)
        result["auc"][name], result["auc_err"][name] = value, error
        value, error = bootstrap(
            lambda y, s, w, cut=threshold: selected_ams(y, s, w, cut, regularisation),
            [test["label"], test_scores, test["weight"]], n_bootstrap, seed)
        result["ams"][name], result["ams_err"][name] = value, error
        result["threshold"][name] = threshold
        passed = test_scores >= threshold
        result["selected"][name] = {"signal": float(test["weight"][passed & (test["label"] == 1)].sum()),
                                    "background": float(test["weight"][passed & (test["label"] == 0)].sum())}
    result["test_yields"] = {"signal": float(test["weight"][test["label"] == 1].sum()),
                             "background": float(test["weight"][test["label"] == 0].sum())}
    return result


def write_tables(metrics: Mapping[str, Any], csv_path: str | Path, md_path: str | Path, tex_path: str | Path) -> None:
    """Classifier table: AUC and AMS (± bootstrap) with the selected signal and background yields."""
    rows = [{"classifier": name, "auc": metrics["auc"][name], "auc_err": metrics["auc_err"][name],
             "ams": metrics["ams"][name], "ams_err": metrics["ams_err"][name],
             "signal": metrics["selected"][name]["signal"], "background": metrics["selected"][name]["background"]}
            for name in metrics["auc"]]
    columns = [
        Column("Classifier", lambda r: DISPLAY_NAMES.get(r["classifier"], r["classifier"]), align="l"),
        Column("AUC", lambda r: with_error(r["auc"], r["auc_err"], 4)),
        Column("AMS", lambda r: with_error(r["ams"], r["ams_err"], 2)),
        Column("s", lambda r: number(r["signal"], 4), latex="$s$"),
        Column("b", lambda r: number(r["background"], 4), latex="$b$"),
    ]
    write_table(rows, columns, csv=csv_path, md=md_path, tex=tex_path,
                note="s, b: expected signal and background events selected at the validation-optimal threshold.")


def plot_performance(
    splits: Mapping[str, str | Path], scores: Mapping[str, str | Path], heavy: Sequence[str],
    metrics: Mapping[str, Any], regularisation: float, roc_outputs: Sequence[str | Path],
    ams_outputs: Sequence[str | Path], score_outputs: Sequence[str | Path],
) -> None:
    """Weighted ROC curves, AMS vs threshold (test), and score distributions of signal and background."""
    import matplotlib.pyplot as plt

    from ml4hep.metrics import roc
    from ml4hep.plotting import label, save

    test = select_events(load_split(splits["test"]), ~process_mask(load_split(splits["test"]), heavy))
    y, w = test["label"], test["weight"]
    fig_roc, ax_roc = plt.subplots(figsize=(7.5, 6.5))
    fig_ams, ax_ams = plt.subplots(figsize=(7.5, 6.5))
    fig_sc, axes_sc = plt.subplots(1, len(scores), figsize=(6 * len(scores), 5.5), squeeze=False)
    for (name, path), ax_sc in zip(scores.items(), axes_sc[0], strict=True):
        with np.load(path, allow_pickle=False) as data:
            s = data["test"]
        eps_s, eps_b, _ = roc(y, s, w)
        ax_roc.plot(eps_b, eps_s, label=f"{DISPLAY_NAMES.get(name, name)} (AUC {metrics['auc'][name]:.3f})")
        thresholds, values = ams_curve(y, s, w, regularisation)
        ax_ams.plot(thresholds, values, label=f"{DISPLAY_NAMES.get(name, name)} (AMS {metrics['ams'][name]:.2f})")
        ax_ams.axvline(metrics["threshold"][name], linestyle=":", color=ax_ams.lines[-1].get_color())
        bins = np.linspace(s.min(), s.max() + 1e-9, 31)
        ax_sc.hist(s[y == 1], bins=bins, weights=w[y == 1], histtype="step", density=True, label="Signal (H)")
        ax_sc.hist(s[y == 0], bins=bins, weights=w[y == 0], histtype="step", density=True, label="Background")
        ax_sc.set_xlabel(f"{DISPLAY_NAMES.get(name, name)} score")
        ax_sc.set_ylabel("Normalised")
        ax_sc.legend()
        label(ax_sc, com_tev=13)
    ax_roc.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax_roc.set_xlabel(r"Background efficiency $\epsilon_B$ (weighted)")
    ax_roc.set_ylabel(r"Signal efficiency $\epsilon_S$ (weighted)")
    ax_ams.set_xlabel("Score threshold")
    ax_ams.set_ylabel(rf"AMS ($b_r$ = {regularisation:g})")
    for fig, ax, outputs in ((fig_roc, ax_roc, roc_outputs), (fig_ams, ax_ams, ams_outputs)):
        ax.legend()
        label(ax, com_tev=13)
        save(fig, outputs)
    save(fig_sc, score_outputs)


def write_metrics(path: str | Path, content: Mapping[str, Any]) -> None:
    """Write a metrics dictionary as JSON (non-finite numbers as null)."""
    write_json(path, dict(content))


def plot_black_box(
    test_path: str | Path, scores_path: str | Path, info_path: str | Path, heavy: Sequence[str], threshold: float,
    feature_outputs: Sequence[str | Path], importance_outputs: Sequence[str | Path], n_features: int = 6,
) -> None:
    """The "opening the black box" figure and the BDT feature importances.

    The most important BDT inputs are shown for signal and background before and after the cut on the BDT score
    (threshold chosen on validation).

    Args:
        test_path: Test split of the event table.
        scores_path: BDT scores file.
        info_path: BDT training info (feature importances).
        heavy: Heavy-Higgs samples (not part of the SM analysis).
        threshold: The BDT threshold of the AMS selection.
        feature_outputs: Files of the feature-distribution figure.
        importance_outputs: Files of the importance figure.
        n_features: How many of the most important features to show.
    """
    import matplotlib.pyplot as plt

    from ml4hep.higgs.features import UNDEFINED
    from ml4hep.plotting import label, save

    test = load_split(test_path)
    test = select_events(test, ~process_mask(test, heavy))
    with np.load(scores_path, allow_pickle=False) as data:
        scores = data["test"]
    importance = json.loads(Path(info_path).read_text())["feature_importance"]
    names = [str(n) for n in test["feature_names"]]
    ranked = sorted(importance, key=importance.get, reverse=True)
    shown = [n for n in ranked if n in names][:n_features]
    passed = scores >= threshold
    fig, axes = plt.subplots(2, (len(shown) + 1) // 2, figsize=(5.5 * ((len(shown) + 1) // 2), 10), squeeze=False)
    for ax, feature in zip(axes.flat, shown, strict=False):
        values = test["X"][:, names.index(feature)]
        defined = values != UNDEFINED
        low, high = np.quantile(values[defined], [0.01, 0.99]) if defined.any() else (0.0, 1.0)
        bins = np.linspace(low, high if high > low else low + 1.0, 26)
        for cls, colour, text in ((1, "tab:red", "signal"), (0, "tab:blue", "background")):
            for selection, style, when in ((defined, "--", "all"), (defined & passed, "-", "after cut")):
                mask = selection & (test["label"] == cls)
                if mask.sum() > 1:
                    ax.hist(values[mask], bins=bins, weights=test["weight"][mask], density=True, histtype="step",
                            linestyle=style, color=colour, label=f"{text} ({when})")
        ax.set_xlabel(feature)
        ax.set_ylabel("Normalised")
        ax.legend(fontsize=8)
        label(ax, com_tev=13)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    save(fig, feature_outputs)
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(ranked) + 2))
    ax.barh(ranked[::-1], [importance[n] for n in ranked[::-1]])
    ax.set_xlabel("BDT feature importance (gain)")
    ax.tick_params(axis="y", labelsize=9)
    label(ax, com_tev=13)
    save(fig, importance_outputs)
