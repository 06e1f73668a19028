"""Plots of the PDF task: replica bands (every replica, mean, 68% band, truth), chi2 training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ml4hep.plots.style import label, plt, save

BAND_LABELS = {"g": "$xg(x)$", "sigma": r"$x\Sigma(x)$", "uv": "$xu_v(x)$", "dv": "$xd_v(x)$"}


def band(ax: plt.Axes, x: np.ndarray, replicas: np.ndarray, truth: np.ndarray | None, ylabel: str, title: str) -> None:
    """Every replica as a thin line, the mean, the central 68% band, and the truth (when given)."""
    for curve in replicas:
        ax.plot(x, curve, color="tab:blue", lw=0.4, alpha=0.35)
    low, high = np.percentile(replicas, [16, 84], axis=0)
    ax.fill_between(x, low, high, color="tab:orange", alpha=0.35, label="68% band")
    ax.plot(x, replicas.mean(axis=0), color="tab:red", lw=1.8, label=f"mean of {len(replicas)} replicas")
    if truth is not None:
        ax.plot(x, truth, color="black", ls="--", lw=1.5, label="truth (Les Houches toy)")
    ax.plot([], [], color="tab:blue", lw=0.6, label="replicas")
    ax.set_xscale("log")
    ax.set_xlabel("$x$")
    ax.set_ylabel(ylabel)
    if truth is not None:
        # Closure pseudo-data are simulated: the plain "Simulation" label; a fit to real data gets a plain title.
        label(ax, text=f"({title})")
    else:
        ax.set_title(title, fontsize=12)
    finite = replicas[:, x > 1e-4] if (x > 1e-4).any() else replicas
    top = np.percentile(finite, 97, axis=0).max()
    bottom = min(np.percentile(finite, 3, axis=0).min(), 0.0)
    ax.set_ylim(bottom - 0.05 * (top - bottom), top + 0.25 * (top - bottom))
    ax.legend(loc="upper right", fontsize=9)


def band_figure(
    x: np.ndarray, replicas: np.ndarray, truth: np.ndarray | None, flavour: str, title: str, paths: Sequence[str]
) -> None:
    """One flavour's band plot saved to ``paths`` (PNG and PDF)."""
    fig, ax = plt.subplots(figsize=(7, 5.5))
    band(ax, x, replicas, truth, BAND_LABELS[flavour], title)
    save(fig, paths)


def bands_grid(
    x: np.ndarray,
    replicas: Mapping[str, np.ndarray],
    truth: Mapping[str, np.ndarray] | None,
    title: str,
    paths: Sequence[str],
) -> None:
    """The four flavours of :data:`BAND_LABELS` in a 2x2 figure."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    for ax, flavour in zip(axes.flat, BAND_LABELS, strict=True):
        band(ax, x, replicas[flavour], None if truth is None else truth[flavour], BAND_LABELS[flavour], title)
    save(fig, paths)


def chi2_curves(histories: Sequence[Mapping[str, np.ndarray]], paths: Sequence[str]) -> None:
    """Training and validation chi2/N against the epoch for a few replicas, the kept epoch marked."""
    fig, ax = plt.subplots(figsize=(7, 5.5))
    for k, history in enumerate(histories):
        color = f"C{k % 10}"
        ax.plot(history["epochs"], history["train"], color=color, lw=1.2, label=f"replica {history['replica']} train")
        ax.plot(history["epochs"], history["val"], color=color, lw=1.2, ls="--", label="validation")
        ax.axvline(float(history["best_epoch"]), color=color, lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"$\chi^2/N$")
    ax.set_title("dotted: kept epoch (validation minimum)", fontsize=11)
    ax.legend(fontsize=8, ncol=2)
    save(fig, paths)
