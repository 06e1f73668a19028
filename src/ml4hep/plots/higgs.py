"""Figures of the Higgs task: classifier performance and the BDT "black box".

The mass-regression and parameterised-network figures are in :mod:`ml4hep.plots.higgs_mass` (re-exported here).

Each function draws from results the compute rules wrote (scores, predictions, metrics) and saves PNG and PDF.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.chunked import read_column
from ml4hep.higgs.dataset import opened_split, process_mask
from ml4hep.higgs.evaluate import DISPLAY_NAMES, sm_events
from ml4hep.higgs.features import UNDEFINED
from ml4hep.metrics import ams_curve, roc
from ml4hep.models.scores import read_scores
from ml4hep.plots.higgs_mass import plot_auc_vs_mass, plot_regression
from ml4hep.plots.style import label, plt, save

__all__ = ["plot_auc_vs_mass", "plot_black_box", "plot_performance", "plot_regression"]


def plot_performance(
    splits: Mapping[str, str | Path],
    scores: Mapping[str, str | Path],
    heavy: Sequence[str],
    metrics: Mapping[str, Any],
    regularisation: float,
    roc_outputs: Sequence[str | Path],
    ams_outputs: Sequence[str | Path],
    score_outputs: Sequence[str | Path],
) -> None:
    """Weighted ROC curves, AMS vs threshold (test), and score distributions of signal and background."""
    test = sm_events(splits["test"], heavy)  # labels, weights and processes only
    y, w = test["label"], test["weight"]
    fig_roc, ax_roc = plt.subplots(figsize=(7.5, 6.5))
    fig_ams, ax_ams = plt.subplots(figsize=(7.5, 6.5))
    fig_sc, axes_sc = plt.subplots(1, len(scores), figsize=(6 * len(scores), 5.5), squeeze=False)
    for (name, path), ax_sc in zip(scores.items(), axes_sc[0], strict=True):
        s = read_scores(path, "test")
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


def plot_black_box(
    test_path: str | Path,
    scores_path: str | Path,
    info_path: str | Path,
    heavy: Sequence[str],
    threshold: float,
    feature_outputs: Sequence[str | Path],
    importance_outputs: Sequence[str | Path],
    n_features: int = 6,
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
    importance = json.loads(Path(info_path).read_text())["feature_importance"]
    ranked = sorted(importance, key=importance.get, reverse=True)
    # Only the shown feature columns, each read chunk by chunk: the memory is that of a few values per event (as for
    # the scores), never the whole feature matrix of the test split.
    with opened_split(test_path) as test:
        sm = ~process_mask(test, heavy)
        y, w = test["label"][sm], test["weight"][sm]
        names = [str(n) for n in test["feature_names"]]
        shown = [n for n in ranked if n in names][:n_features]
        columns = {feature: read_column(test, "X", names.index(feature))[sm] for feature in shown}
    passed = read_scores(scores_path, "test") >= threshold
    fig, axes = plt.subplots(2, (len(shown) + 1) // 2, figsize=(5.5 * ((len(shown) + 1) // 2), 10), squeeze=False)
    for ax, (feature, values) in zip(axes.flat, columns.items(), strict=False):
        defined = values != UNDEFINED
        low, high = np.quantile(values[defined], [0.01, 0.99]) if defined.any() else (0.0, 1.0)
        bins = np.linspace(low, high if high > low else low + 1.0, 26)
        for cls, colour, text in ((1, "tab:red", "signal"), (0, "tab:blue", "background")):
            for selection, style, when in ((defined, "--", "all"), (defined & passed, "-", "after cut")):
                mask = selection & (y == cls)
                if mask.sum() > 1:
                    ax.hist(
                        values[mask],
                        bins=bins,
                        weights=w[mask],
                        density=True,
                        histtype="step",
                        linestyle=style,
                        color=colour,
                        label=f"{text} ({when})",
                    )
        ax.set_xlabel(feature)
        ax.set_ylabel("Normalised")
        ax.legend(fontsize=8)
    # Once per figure: mplhep's label lays the whole figure out again for each call.
    label(axes.flat[0], com_tev=13)
    for ax in list(axes.flat)[len(shown) :]:
        ax.set_visible(False)
    save(fig, feature_outputs)
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(ranked) + 2))
    ax.barh(ranked[::-1], [importance[n] for n in ranked[::-1]])
    ax.set_xlabel("BDT feature importance (gain)")
    ax.tick_params(axis="y", labelsize=9)
    label(ax, com_tev=13)
    save(fig, importance_outputs)
