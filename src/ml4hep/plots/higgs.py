"""Figures of the Higgs task: classifier performance, the BDT "black box", mass regression, parameterised networks.

Each function draws from results the compute rules wrote (scores, predictions, metrics) and saves PNG and PDF.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.higgs import parameterised_table as parameterised
from ml4hep.higgs import resolution
from ml4hep.higgs.dataset import load_split, process_mask, select_events
from ml4hep.higgs.evaluate import DISPLAY_NAMES
from ml4hep.higgs.features import UNDEFINED
from ml4hep.metrics import ams_curve, roc
from ml4hep.models.scores import read_scores
from ml4hep.plots.style import label, plt, save


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
    test = select_events(load_split(splits["test"]), ~process_mask(load_split(splits["test"]), heavy))
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
    test = load_split(test_path)
    test = select_events(test, ~process_mask(test, heavy))
    scores = read_scores(scores_path, "test")
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
                    ax.hist(
                        values[mask],
                        bins=bins,
                        weights=test["weight"][mask],
                        density=True,
                        histtype="step",
                        linestyle=style,
                        color=colour,
                        label=f"{text} ({when})",
                    )
        ax.set_xlabel(feature)
        ax.set_ylabel("Normalised")
        ax.legend(fontsize=8)
        label(ax, com_tev=13)
    for ax in list(axes.flat)[len(shown) :]:
        ax.set_visible(False)
    save(fig, feature_outputs)
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(ranked) + 2))
    ax.barh(ranked[::-1], [importance[n] for n in ranked[::-1]])
    ax.set_xlabel("BDT feature importance (gain)")
    ax.tick_params(axis="y", labelsize=9)
    label(ax, com_tev=13)
    save(fig, importance_outputs)


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
    rows: Sequence[Mapping[str, Any]], left_out_mass: float, outputs: Sequence[str | Path], com_tev: float = 13.0
) -> None:
    """AUC against the heavy-Higgs mass for the three networks, the left-out mass highlighted.

    Args:
        rows: The rows of :func:`write_auc_table`.
        left_out_mass: Mass held out of the parameterised training (shaded band and marker ring).
        outputs: Figure files (PNG, PDF).
        com_tev: Centre-of-mass energy on the label.
    """
    masses = np.array([row["mass"] for row in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 6.0))
    span = float(np.ptp(masses)) if len(masses) > 1 else 100.0
    ax.axvspan(
        left_out_mass - 0.03 * span,
        left_out_mass + 0.03 * span,
        color="gold",
        alpha=0.35,
        label=f"Left out of training ({parameterised.mass_label(left_out_mass)} GeV)",
    )
    styles = {
        "parameterised": {"marker": "o", "linestyle": "-"},
        "dedicated": {"marker": "s", "linestyle": "--", "markerfacecolor": "none"},
        "unparameterised": {"marker": "^", "linestyle": ":"},
    }
    for name in parameterised.NETWORKS:
        values = np.array([row[name] for row in rows], dtype=float)
        finite = np.isfinite(values)
        if not finite.any():
            continue
        style = dict(styles[name])
        if finite.sum() == 1:
            style["linestyle"] = "none"
        line = ax.plot(masses[finite], values[finite], label=parameterised.DISPLAY_NAMES[name], markersize=8, **style)[
            0
        ]
        at_left_out = finite & np.array([parameterised.same_mass(m, left_out_mass) for m in masses])
        ax.plot(
            masses[at_left_out],
            values[at_left_out],
            linestyle="none",
            marker="o",
            markersize=15,
            markerfacecolor="none",
            markeredgecolor=line.get_color(),
            markeredgewidth=1.5,
        )
    ax.set_xlabel(r"Heavy-Higgs mass $m_H$ [GeV]")
    ax.set_ylabel("AUC (test, weighted)")
    ax.set_xticks(masses)
    ax.legend(loc="lower right")
    label(ax, com_tev=com_tev)
    save(fig, outputs)
