"""The figure of the SUSY active learning: accuracy against the number of labelled points (arXiv:1905.08628)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.plots.style import label, plt, save

STYLES = {"active": {"color": "tab:red", "marker": "o"}, "random": {"color": "tab:blue", "marker": "s"}}
"""Line colour and marker per strategy (other strategies take matplotlib's cycle)."""


def plot_learning_curve(metrics: Mapping[str, Any], paths: Sequence[str | Path]) -> None:
    """Accuracy (left) and accuracy and coverage at confidence >= 0.95 (right) against the labelled points.

    Args:
        metrics: The task's ``metrics.json`` (``curves``: strategy -> records with ``n_labelled``, ``accuracy``,
            ``accuracy_conf95``, ``coverage_conf95``; ``display_names``; ``n_test``).
        paths: Figure files (PNG, PDF).
    """
    names = metrics.get("display_names", {})
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for strategy, curve in metrics["curves"].items():
        n = [r["n_labelled"] for r in curve]
        style = STYLES.get(strategy, {})
        name = names.get(strategy, strategy)
        left.plot(n, [r["accuracy"] for r in curve], label=name, **style)
        # no test point reaching the confidence leaves the accuracy there undefined (None in the JSON)
        confident = [np.nan if r["accuracy_conf95"] is None else r["accuracy_conf95"] for r in curve]
        right.plot(n, confident, label=f"{name}: accuracy", **style)
        right.plot(n, [r["coverage_conf95"] for r in curve], ls="--", mfc="none", label=f"{name}: coverage", **style)
    left.set_ylabel(f"test accuracy ({metrics.get('n_test', '?')} points)")
    right.set_ylabel("at confidence ≥ 0.95")
    for ax in (left, right):
        ax.set_xlabel("points labelled by the recast")
        ax.legend(fontsize=9, loc="lower right")
        label(ax, com_tev=13)
    right.set_ylim(0, 1.05)
    save(fig, paths)
