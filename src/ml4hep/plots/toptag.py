"""Figures of the top-tagging task: the ROC curves of every tagger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ml4hep.metrics import roc
from ml4hep.models.scores import read_scores
from ml4hep.plots.style import label, plt, save
from ml4hep.tables import with_error
from ml4hep.toptag.evaluate import DISPLAY_NAMES
from ml4hep.toptag.preprocess import load_split


def plot_rocs(
    test_path: str | Path, scores: Mapping[str, str | Path], metrics: Mapping[str, Any], outputs: Sequence[str | Path]
) -> None:
    """ROC curves of all taggers: εS vs 1/εB on a log scale (the landscape paper's figure)."""
    labels = load_split(test_path)["label"]
    fig, ax = plt.subplots(figsize=(8, 6.5))
    for name, path in scores.items():
        eps_s, eps_b, _ = roc(labels, read_scores(path, "test"))
        keep = (eps_b > 0) & (eps_s > 0.05)
        m = metrics["taggers"][name]
        r30 = with_error(m["r30"], None, 0)
        legend = f"{DISPLAY_NAMES.get(name, name)} (AUC {m['auc']:.3f}, R30 {r30})"
        ax.plot(eps_s[keep], 1.0 / eps_b[keep], label=legend, linewidth=1.8)
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel(r"Signal efficiency $\epsilon_S$")
    ax.set_ylabel(r"Background rejection $1/\epsilon_B$")
    ax.legend(fontsize=10, loc="upper right")
    label(ax, com_tev=14)
    save(fig, outputs)
