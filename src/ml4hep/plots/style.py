"""Plot helpers: mplhep styling, the "Simulation" label and saving every figure as PDF and PNG."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

plt.style.use(mplhep.style.ROOT)
plt.rcParams.update({"font.size": 14, "axes.labelsize": 16, "legend.fontsize": 11})


def label(ax: plt.Axes, text: str = "", com_tev: float | None = None) -> None:
    """Put the plain "Simulation" label (no experiment branding) and the centre-of-mass energy above ``ax``.

    The layout of mplhep's ``exp_label(exp="", loc=0)``, written as two texts: mplhep draws the whole figure once
    per label to place its second text after the (here empty) experiment name, which made labelling a grid of
    panels cost seconds.

    Example:
        >>> fig, ax = plt.subplots()
        >>> label(ax, "(tiny)", com_tev=13)
        >>> [t.get_text() for t in ax.texts]
        ['Simulation (tiny)', '√s = 13 TeV']
        >>> plt.close(fig)
    """
    above = {"transform": ax.transAxes, "va": "bottom", "fontsize": 12}
    ax.text(0.0, 1.005, f"Simulation {text}".strip(), ha="left", style="italic", **above)
    if com_tev:
        ax.text(1.0, 1.005, f"√s = {com_tev:g} TeV", ha="right", **above)


def save(fig: plt.Figure, paths: Iterable[str | Path]) -> None:
    """Save ``fig`` to every path (PDF and PNG by the suffixes given) and close it."""
    fig.tight_layout()
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
