"""Plots of the PDF task: replica bands (every replica, mean, 68% band, truth), chi2 training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ml4hep.plots.style import label, plt, save

BAND_LABELS = {"g": "$xg(x)$", "sigma": r"$x\Sigma(x)$", "uv": "$xu_v(x)$", "dv": "$xd_v(x)$"}


def band(
    ax: plt.Axes,
    x: np.ndarray,
    replicas: np.ndarray,
    truth: np.ndarray | None,
    ylabel: str,
    title: str,
    truth_label: str = "truth (Les Houches toy)",
) -> None:
    """Every replica as a thin line, the mean, the central 68% band, and the truth (when given)."""
    for curve in replicas:
        ax.plot(x, curve, color="tab:blue", lw=0.4, alpha=0.35)
    low, high = np.percentile(replicas, [16, 84], axis=0)
    ax.fill_between(x, low, high, color="tab:orange", alpha=0.35, label="68% band")
    ax.plot(x, replicas.mean(axis=0), color="tab:red", lw=1.8, label=f"mean of {len(replicas)} replicas")
    if truth is not None:
        ax.plot(x, truth, color="black", ls="--", lw=1.5, label=truth_label)
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
    x: np.ndarray,
    replicas: np.ndarray,
    truth: np.ndarray | None,
    flavour: str,
    title: str,
    paths: Sequence[str],
    truth_label: str = "truth (Les Houches toy)",
) -> None:
    """One flavour's band plot saved to ``paths`` (PNG and PDF)."""
    fig, ax = plt.subplots(figsize=(7, 5.5))
    band(ax, x, replicas, truth, BAND_LABELS[flavour], title, truth_label)
    save(fig, paths)


def bands_grid(
    x: np.ndarray,
    replicas: Mapping[str, np.ndarray],
    truth: Mapping[str, np.ndarray] | None,
    title: str,
    paths: Sequence[str],
    truth_label: str = "truth (Les Houches toy)",
) -> None:
    """The four flavours of :data:`BAND_LABELS` in a 2x2 figure."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    for ax, flavour in zip(axes.flat, BAND_LABELS, strict=True):
        truth_curve = None if truth is None else truth[flavour]
        band(ax, x, replicas[flavour], truth_curve, BAND_LABELS[flavour], title, truth_label)
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


def closure_summary(samples: Mapping[str, Mapping[str, object]], title: str, paths: Sequence[str]) -> None:
    """R_bv and ξ_1σ per sample (in, out of sample): every fit's value, the combined value with its ± as an error bar.

    Args:
        samples: Label -> the estimators of :func:`ml4hep.pdf.closure.estimators` (per-fit values included).
        title: What the closure test is (level, fits, truth).
        paths: PNG and PDF.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    panels = (("r_bv", r"$R_\mathrm{bv}$", 1.0, (0.9, 1.1)), ("xi_1sigma", r"$\xi_{1\sigma}$", 0.683, (0.63, 0.73)))
    for ax, (key, ylabel, target, window) in zip(axes, panels, strict=True):
        ax.axhspan(*window, color="tab:green", alpha=0.15, label=f"aim {window[0]:g}-{window[1]:g}")
        ax.axhline(target, color="tab:green", lw=1.2)
        for position, (name, part) in enumerate(samples.items()):
            per_fit = np.asarray(part[f"{key}_per_fit"], float)
            if len(per_fit) > 1:
                jitter = np.linspace(-0.15, 0.15, len(per_fit))
                single = "single fits" if position == 0 else None
                ax.plot(position + jitter, per_fit, "o", color="0.6", ms=4, label=single)
            error = part[f"{key}_err"]
            spread = "± over fits and replicas" if part["error_includes_fit_scatter"] else "± over replicas only"
            ax.errorbar(
                position,
                part[key],
                yerr=None if error is None or not np.isfinite(error) else error,
                fmt="s",
                color=f"C{position}",
                ms=8,
                capsize=4,
                label=f"{name}: {part['fits']} fit(s), {spread}",
            )
        ax.set_xticks(range(len(samples)), [name.split(" (")[0] for name in samples])
        ax.set_xlim(-0.6, max(len(samples), 1) - 0.4)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, loc="best")
        label(ax, text=f"({title})" if samples else title)
    save(fig, paths)
