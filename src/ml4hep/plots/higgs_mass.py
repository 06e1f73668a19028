"""Figures of the Higgs mass regression and of the mass-parameterised networks, drawn from their outputs.

Apart from :mod:`ml4hep.plots.higgs` so that their render rules (``higgs_regression_plots``,
``higgs_parameterised_plots``) import no classifier, training or torch code: a change there re-renders nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.higgs import parameterised_table as parameterised
from ml4hep.higgs import resolution
from ml4hep.higgs.features import UNDEFINED
from ml4hep.plots.style import label, plt, save


def plot_regression(
    truth: np.ndarray,
    estimates: Mapping[str, np.ndarray],
    outputs: Sequence[str | Path],
    bins: Sequence[float] | np.ndarray | None = None,
) -> None:
    """Response distributions (left) and reconstructed vs true mass (right) of every estimator.

    Args:
        truth: True masses (events without one are left out).
        estimates: Estimator name -> masses (-999 where undefined).
        outputs: Figure files (PNG, PDF).
        bins: True-mass bin edges of the right panel, e.g. :func:`mass_bins` (default: 6 quantile bins of the true
            mass).
    """
    truth = np.asarray(truth, dtype=np.float64)
    valid = np.isfinite(truth) & (truth > 0)
    if bins is None:
        bins = np.unique(np.quantile(truth[valid], np.linspace(0, 1, 7))) if valid.any() else np.array([0.0, 1.0])
        bins = np.concatenate([[0.0], bins[1:-1], [np.inf]])
    edges = np.asarray(bins, dtype=np.float64)
    fig, (ax_r, ax_m) = plt.subplots(1, 2, figsize=(15, 6.5))
    response_bins = np.linspace(0.0, 2.0, 41)
    peak = 0.0
    top = float(np.max(truth[valid])) * 1.1 if valid.any() else 1.0
    for offset, (name, estimate) in enumerate(estimates.items()):
        estimate = np.asarray(estimate, dtype=np.float64)
        defined = valid & np.isfinite(estimate) & (estimate != UNDEFINED)
        stats = resolution.overall_resolution(truth, estimate)
        color = f"C{offset}"
        display = resolution.DISPLAY_NAMES.get(name, name)
        if defined.any():
            counts, _, _ = ax_r.hist(
                np.clip(estimate[defined] / truth[defined], response_bins[0], response_bins[-1] - 1e-9),
                bins=response_bins,
                density=True,
                histtype="step",
                linewidth=2,
                color=color,
                label=f"{display}: bias {stats['bias']:+.2f}, res. {stats['resolution']:.2f}",
            )
            peak = max(peak, float(np.max(counts)))
        centres, medians, lows, highs = [], [], [], []
        for low, high in zip(edges[:-1], edges[1:], strict=True):
            inside = defined & (truth >= low) & (truth < high)
            if inside.sum() < 2:
                continue
            centres.append(float(np.median(truth[inside])))
            q25, q50, q75 = np.percentile(estimate[inside], [25.0, 50.0, 75.0])
            medians.append(q50)
            lows.append(q25)
            highs.append(q75)
        if centres:
            top = max(top, 1.05 * max(highs))
            ax_m.plot(centres, medians, "o-", color=color, label=f"{display} (median, IQR)")
            ax_m.fill_between(centres, lows, highs, color=color, alpha=0.2)
    ax_r.axvline(1.0, color="grey", linestyle=":")
    ax_r.set_xlabel(r"Response $m_{\mathrm{estimate}} / m_{\tau\tau}^{\mathrm{true}}$ (last bin: overflow)")
    ax_r.set_ylabel("Events (normalised)")
    ax_r.set_xlim(response_bins[0], response_bins[-1])
    if peak > 0:
        ax_r.set_ylim(0.0, 1.45 * peak)
    ax_r.legend(loc="upper right")
    ax_m.plot([0.0, top], [0.0, top], "k--", linewidth=1, label="$m_{\\mathrm{estimate}} = m^{\\mathrm{true}}$")
    ax_m.set_xlim(0.0, top)
    ax_m.set_ylim(0.0, top)
    ax_m.set_xlabel(r"True di-tau mass $m_{\tau\tau}^{\mathrm{true}}$ [GeV]")
    ax_m.set_ylabel("Reconstructed / regressed mass [GeV]")
    ax_m.legend(loc="upper left")
    for ax in (ax_r, ax_m):
        label(ax)
    save(fig, outputs)


def plot_auc_vs_mass(
    curve: Sequence[Mapping[str, Any]], left_out_mass: float, outputs: Sequence[str | Path], com_tev: float = 13.0
) -> None:
    """AUC against the heavy-Higgs mass of every network, as in the figure of Baldi et al. (arXiv:1601.07913).

    The parameterised network (evaluated at each mass) and the unparameterised one are drawn as lines; every
    network trained at a single mass is a thin line over all masses, its own mass marked by a filled square, so that
    the figure shows both what a single-mass network loses away from its mass and how the parameterised network
    does at the mass left out of its training.

    Args:
        curve: The rows of :func:`ml4hep.higgs.parameterised.curve_rows` (``mass``, ``network``, ``kind``,
            ``trained_at_mass``, ``auc``).
        left_out_mass: Mass held out of the parameterised training (shaded band and marker ring).
        outputs: Figure files (PNG, PDF).
        com_tev: Centre-of-mass energy on the label.
    """
    masses = np.array(sorted({float(row["mass"]) for row in curve}), dtype=float)
    networks = list(dict.fromkeys(str(row["network"]) for row in curve))
    dedicated = [n for n in networks if any(r["network"] == n and r["kind"] == "dedicated" for r in curve)]
    fig, ax = plt.subplots(figsize=(8.5, 6.5))
    span = float(np.ptp(masses)) if len(masses) > 1 else 100.0
    ax.axvspan(
        left_out_mass - 0.03 * span,
        left_out_mass + 0.03 * span,
        color="gold",
        alpha=0.35,
        label=f"Left out of training ({parameterised.mass_label(left_out_mass)} GeV)",
    )
    colours = plt.cm.viridis(np.linspace(0.0, 0.9, max(len(dedicated), 1)))
    styles = {
        "parameterised": {"marker": "o", "linestyle": "-", "linewidth": 2.5, "color": "tab:red", "zorder": 4},
        "unparameterised": {"marker": "^", "linestyle": ":", "linewidth": 2.0, "color": "black", "zorder": 3},
    }
    for network in networks:
        rows = sorted((r for r in curve if r["network"] == network), key=lambda r: float(r["mass"]))
        x = np.array([float(r["mass"]) for r in rows])
        y = np.array([float(r["auc"]) for r in rows])
        finite = np.isfinite(y)
        if not finite.any():
            continue
        kind = str(rows[0]["kind"])
        if kind == "dedicated":
            colour = colours[dedicated.index(network)]
            own = finite & np.array([bool(r["trained_at_mass"]) for r in rows])
            trained_at = ", ".join(parameterised.mass_label(m) for m in x[own])
            ax.plot(x[finite], y[finite], linestyle="--", linewidth=1.0, color=colour, alpha=0.8)
            label_text = f"Trained at {trained_at} GeV only"
            ax.plot(x[own], y[own], linestyle="none", marker="s", markersize=8, color=colour, label=label_text)
        else:
            style = dict(styles.get(kind, {"marker": "x", "linestyle": "-"}))
            line = ax.plot(
                x[finite], y[finite], markersize=8, label=parameterised.DISPLAY_NAMES.get(kind, kind), **style
            )
            at_left_out = finite & np.array([parameterised.same_mass(m, left_out_mass) for m in x])
            ax.plot(
                x[at_left_out],
                y[at_left_out],
                linestyle="none",
                marker="o",
                markersize=16,
                markerfacecolor="none",
                markeredgecolor=line[0].get_color(),
                markeredgewidth=1.5,
            )
    ax.set_xlabel(r"Heavy-Higgs mass $m_H$ [GeV]")
    ax.set_ylabel("AUC (test, weighted)")
    ax.set_xticks(masses)
    ax.legend(loc="lower right", ncol=2 if len(dedicated) > 3 else 1, fontsize=9)
    label(ax, com_tev=com_tev)
    save(fig, outputs)
