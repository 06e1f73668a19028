"""Figures of the ``sbi`` task: the expected −2 ln r curves with the value of gold, and the weight validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.plots.style import label, plt, save
from ml4hep.sbi.inference import LEVELS

TAB10 = ("blue", "orange", "green", "red", "purple", "brown", "pink", "gray", "olive", "cyan")
"""Matplotlib's tab10 colour names, one per curve of the −2 ln r panels."""

OBSERVABLE_LABELS = {
    "tau": r"$\tau = 1 - T$",
    "log_y23": r"$\ln y_{23}$ (Durham)",
    "rho_heavy": r"$M_H^2 / E_\mathrm{vis}^2$",
    "rho_light": r"$M_L^2 / E_\mathrm{vis}^2$",
    "multiplicity": "particle multiplicity",
}


def plot_llr(inference: Mapping[str, Any], display_names: Mapping[str, str], outputs: Sequence[str | Path]) -> None:
    """Expected Δ(−2 ln r)(θ) of the truth and each estimator per θ_true; the 68% widths as bars (value of gold)."""
    grid = np.asarray(inference["grid"])
    results = inference["results"]
    thetas = list(next(iter(results.values())))
    fig, axes = plt.subplots(1, len(thetas) + 1, figsize=(6.5 * (len(thetas) + 1), 5.5), squeeze=False)
    for ax, theta in zip(axes[0], thetas, strict=False):
        for k, (name, per_theta) in enumerate(results.items()):
            # the truth reference underneath the estimators, wide and grey, so that each estimator reads against it;
            # tab10 explicitly: the style's own cycle repeats its colours before the seventh estimator
            style = {"color": "black", "alpha": 0.35, "linewidth": 5} if name == "truth" else {"linewidth": 1.8}
            ax.plot(
                grid,
                per_theta[theta]["expected"],
                label=display_names.get(name, name),
                **{"color": f"tab:{TAB10[k % 10]}", **style},
            )
        for level, threshold in LEVELS.items():
            ax.axhline(threshold, color="grey", linestyle=":", linewidth=1)
            ax.text(grid[0], threshold, f" {level}%", va="bottom", fontsize=10, color="grey")
        ax.axvline(float(theta), color="black", linestyle="--", linewidth=1, label=r"$\theta_\mathrm{true}$")
        ax.set_xscale("log")
        ax.set_ylim(0, 4 * LEVELS["95"])
        ax.set_xlabel(r"FSR scale factor $\theta = \mu_R / p_T$")
        ax.set_ylabel(rf"expected $\Delta(-2 \ln r)$, N = {inference['events']}")
        ax.legend(fontsize=10, loc="upper center")
        label(ax, rf"$e^+e^- \to Z$, $\theta_\mathrm{{true}}$ = {theta}")
    bars = axes[0][-1]
    names = list(results)
    width = 0.8 / max(len(thetas), 1)
    for k, theta in enumerate(thetas):
        values = [results[name][theta]["width68"] for name in names]
        bars.bar(np.arange(len(names)) + k * width, values, width, label=rf"$\theta_\mathrm{{true}}$ = {theta}")
    bars.set_xticks(np.arange(len(names)) + width * (len(thetas) - 1) / 2)
    bars.set_xticklabels([display_names.get(n, n) for n in names], rotation=30)
    bars.set_ylabel("expected 68% interval width on θ")
    bars.legend(fontsize=10)
    label(bars, "value of gold")
    save(fig, outputs)


def plot_validation(validation: Mapping[str, Any], outputs: Sequence[str | Path]) -> None:
    """Per direct sample (rows) and observable (columns): the direct histogram against the reweighted nominal one."""
    samples = validation["theta"]
    observables = list(next(iter(samples.values())))
    fig, axes = plt.subplots(
        len(samples), len(observables), figsize=(4.5 * len(observables), 4 * len(samples)), squeeze=False
    )
    for row, (theta, per) in zip(axes, samples.items(), strict=True):
        for ax, name in zip(row, observables, strict=True):
            c = per[name]
            centres = np.arange(len(c["direct"]))
            ax.errorbar(centres, c["direct"], yerr=c["direct_err"], fmt="o", color="black", label=f"direct θ={theta}")
            ax.step(centres, c["reweighted"], where="mid", label="nominal × r(x,z|θ)")
            ax.fill_between(
                centres,
                np.asarray(c["reweighted"]) - c["reweighted_err"],
                np.asarray(c["reweighted"]) + c["reweighted_err"],
                step="mid",
                alpha=0.3,
            )
            ax.step(centres, c["nominal"], where="mid", linestyle="--", color="grey", label="nominal (θ = 1)")
            ax.set_xlabel(f"{OBSERVABLE_LABELS.get(name, name)} (quantile bin)")
            ax.set_ylabel("fraction of events")
            ax.set_title(rf"$\chi^2$/ndf = {c['chi2']:.1f}/{c['ndf']}", fontsize=12)
            ax.legend(fontsize=8)
    save(fig, outputs)
