"""Figures of the top-tagging task: the ROC curves of every tagger and the sculpting-vs-rejection trade-off."""

from __future__ import annotations

import math
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


def _finite(value: Any) -> float | None:
    """A plottable number: None for undefined or infinite values (JSON's ``"inf"`` included)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _draw_trade_off(ax: Any, result: Mapping[str, Any], key: str, error_key: str | None = None) -> list[str]:
    """R50 (x) against ``result``'s ``key`` (y; ``error_key``: its error bars) of every tagger, on ``ax``.

    One curve per decorrelation method over its strengths (labelled), the plain taggers as points.

    Returns:
        The labels of the points left out (an undefined or infinite value).
    """
    names = result["display_names"]
    not_drawn: list[str] = []

    def point(m: Mapping[str, Any]) -> tuple[float | None, float | None, float]:
        error = _finite(m.get(error_key)) if error_key else None
        return _finite(m["r50"]), _finite(m.get(key)), error or 0.0

    for method, scans in result["decorrelated"].items():
        points = [(*point(m), m["strength"]) for m in scans]
        drawn = [(x, y, e, s) for x, y, e, s in points if x is not None and y is not None]
        not_drawn += [f"{names[method]} {s:g}" for x, y, _, s in points if x is None or y is None]
        if not drawn:
            continue
        xs, ys, errors, strengths = zip(*drawn, strict=True)
        line = ax.errorbar(xs, ys, yerr=errors if error_key else None, marker="o", capsize=2, label=names[method])
        colour = line.lines[0].get_color()
        for x, y, strength in zip(xs, ys, strengths, strict=True):
            ax.annotate(f"{strength:g}", (x, y), textcoords="offset points", xytext=(5, 4), fontsize=9, color=colour)
    markers = iter("s^vD<>phX*")
    for name, m in result["plain"].items():
        x, y, error = point(m)
        if x is None or y is None:
            not_drawn.append(names[name])
            continue
        ax.errorbar(
            [x],
            [y],
            yerr=[error] if error_key else None,
            linestyle="none",
            marker=next(markers, "o"),
            markersize=9,
            capsize=2,
            label=f"{names[name]} (plain)",
        )
    ax.set_xscale("log")
    ax.set_xlabel(r"Background rejection $R_{50} = 1/\epsilon_B$ at $\epsilon_S = 0.5$")
    return not_drawn


def plot_sculpting(result: Mapping[str, Any], outputs: Sequence[str | Path]) -> None:
    """Sculpting against rejection: 1/JSD (left) and dCorr² of score and QCD mass (right) against R50.

    Left, both axes logarithmic: one curve per decorrelation method over its strengths (labelled), the plain taggers
    as points, and the 1/JSD of mass-independent cuts keeping as many QCD jets (dotted: the statistical ceiling of
    the test split). Right: the same taggers' dCorr² over all the test QCD jets, with its bootstrap errors (the
    statistic a small test split resolves).

    Args:
        result: :func:`ml4hep.toptag.decorrelation.evaluate_decorrelation`'s output.
        outputs: PNG and PDF paths.
    """
    fig, (ax, right) = plt.subplots(1, 2, figsize=(15, 6.5))
    not_drawn = _draw_trade_off(ax, result, "inverse_jsd")
    ceiling: list[tuple[float, float]] = []
    for m in [*result["plain"].values(), *(m for scans in result["decorrelated"].values() for m in scans)]:
        x, y = _finite(m["r50"]), _finite(m.get("unsculpted_inverse_jsd"))
        if x is not None and y is not None:
            ceiling.append((x, y))
    if ceiling:
        ceiling.sort()
        ax.plot(*zip(*ceiling, strict=True), color="grey", linestyle=":", label="mass-independent cut, same QCD count")
    ax.set_yscale("log")
    ax.set_ylabel(r"Sculpting $1/\mathrm{JSD}$ (QCD mass, pass vs fail)")
    if not_drawn:
        ax.text(0.02, 0.02, "no QCD jet passes: " + ", ".join(not_drawn), transform=ax.transAxes, fontsize=9)
    ax.legend(fontsize=9, loc="upper right")
    label(ax, com_tev=14)
    _draw_trade_off(right, result, "distance_correlation", "distance_correlation_error")
    right.set_ylim(bottom=0)
    right.set_ylabel(r"dCorr$^2$(score, mass) of the QCD jets")
    label(right, com_tev=14)
    save(fig, outputs)
