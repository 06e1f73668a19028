"""Limit figures: the expected-limit "Brazil" plot."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.plots.style import label, plt, save


def brazil_plot(
    masses: Sequence[float] | np.ndarray,
    limits: list[dict[str, Any]],
    outputs: Iterable[str | Path],
    *,
    ylabel: str,
    observed: Sequence[float] | np.ndarray | None = None,
    reference: float | None = None,
) -> None:
    r"""Expected-limit "Brazil" plot versus the Higgs mass.

    Args:
        masses: Higgs masses in GeV.
        limits: One :func:`expected_upper_limit` result per mass.
        outputs: Files to write (PDF and PNG by suffix).
        ylabel: y-axis label (e.g. "95% CL limit on $\mu$").
        observed: Optional observed limits per mass (solid line with markers).
        reference: Optional horizontal reference line (e.g. 1 for mu = 1).
    """
    m = np.asarray(masses, dtype=float)
    if len(limits) != m.size:
        raise ValueError(f"{m.size} masses but {len(limits)} limits")
    order = np.argsort(m)
    m = m[order]
    band = np.array([limits[i]["band"] for i in order], dtype=float)
    fig, ax = plt.subplots(figsize=(8, 6))
    ax.fill_between(m, band[:, 0], band[:, 4], color="#ffcc00", label=r"Expected $\pm 2\sigma$", lw=0)
    ax.fill_between(m, band[:, 1], band[:, 3], color="#00cc00", label=r"Expected $\pm 1\sigma$", lw=0)
    ax.plot(m, band[:, 2], "k--", label="Expected (median)")
    if observed is not None:
        obs = np.asarray(observed, dtype=float)[order]
        ax.plot(m, obs, "k-o", ms=4, label="Observed")
    if reference is not None:
        ax.axhline(reference, color="red", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel(r"$m_H$ [GeV]")
    ax.set_ylabel(ylabel)
    ax.set_xlim(m.min(), m.max())
    ax.legend(loc="upper right")
    label(ax)
    save(fig, outputs)
