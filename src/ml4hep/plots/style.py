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
    """Put the plain "Simulation" label (no experiment branding) and the centre-of-mass energy on ``ax``."""
    mplhep.label.exp_label(
        exp="",
        llabel=f"Simulation {text}".strip(),
        rlabel=f"√s = {com_tev:g} TeV" if com_tev else "",  # mathtext's \sqrt has no glyph in this font
        ax=ax,
        loc=0,
        fontsize=12,
    )


def save(fig: plt.Figure, paths: Iterable[str | Path]) -> None:
    """Save ``fig`` to every path (PDF and PNG by the suffixes given) and close it."""
    fig.tight_layout()
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
