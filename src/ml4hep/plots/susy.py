"""Figures of the SUSY task: exclusion maps, accuracy and coverage vs confidence, the Pythia8 efficiency grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ml4hep.plots.style import label, plt, save
from ml4hep.susy.classifiers import confidence
from ml4hep.susy.confidence import accuracy_curve
from ml4hep.susy.evaluate import DISPLAY, PLANES, excluded_fraction_maps, map_edges
from ml4hep.susy.grid import GRID_REGIONS, parametrised_curve


def plot_maps(
    test: Mapping[str, np.ndarray],
    predicted_excluded: np.ndarray,
    classifier: str,
    nbins: int,
    paths: Sequence[str | Path],
) -> None:
    """The four exclusion maps: the excluded fraction per bin by the recast (top) and by ``classifier`` (bottom).

    Args:
        test: Test split (masses and the ``allowed`` label).
        predicted_excluded: Whether the classifier excludes each test point.
        classifier: Name of that classifier.
        nbins: Bins per axis.
        paths: Figure files (PNG, PDF).
    """
    true_excluded = test["allowed"] == 0
    wrong = true_excluded != predicted_excluded
    fig, axes = plt.subplots(2, len(PLANES), figsize=(5.2 * len(PLANES), 9.5), squeeze=False)
    y = test["m_chi10"]
    for column, (mass, axis_label) in enumerate(PLANES.values()):
        x = test[mass]
        finite = np.isfinite(x) & np.isfinite(y)
        bins = (map_edges(x[finite], nbins), map_edges(y[finite], nbins))
        maps = {
            "recast": excluded_fraction_maps(x[finite], y[finite], true_excluded[finite], bins)[0],
            classifier: excluded_fraction_maps(x[finite], y[finite], predicted_excluded[finite], bins)[0],
        }
        centres = [0.5 * (b[1:] + b[:-1]) for b in bins]
        for row, (source, fraction) in enumerate(maps.items()):
            ax = axes[row, column]
            mesh = ax.pcolormesh(bins[0], bins[1], fraction.T, vmin=0, vmax=1, cmap="RdYlGn_r", shading="flat")
            for other, style in (("recast", "-"), (classifier, "--")):
                masked = np.ma.masked_invalid(maps[other].T)
                if masked.count() >= 4 and np.nanmin(maps[other]) < 0.5 < np.nanmax(maps[other]):
                    ax.contour(centres[0], centres[1], masked, levels=[0.5], colors="k", linestyles=style, linewidths=2)
            if row == 1:
                ax.scatter(
                    x[finite & wrong],
                    y[finite & wrong],
                    s=6,
                    c="blue",
                    marker="x",
                    linewidths=0.7,
                    label=f"misclassified ({int((finite & wrong).sum())})",
                )
                ax.legend(loc="upper left", fontsize=9)
            ax.set_xlabel(f"{axis_label} [GeV]", fontsize=12)
            ax.set_ylabel(r"$m_{\tilde\chi^0_1}$ [GeV]", fontsize=12)
            ax.set_title(
                f"{'recast' if source == 'recast' else DISPLAY.get(source, source)}: excluded fraction", fontsize=11
            )
            fig.colorbar(mesh, ax=ax)
    fig.suptitle(
        r"$\mathit{Simulation}$, √s = 13 TeV pMSSM-19 scan. Solid: 50% contour of the recast, "
        "dashed: of the classifier",
        fontsize=12,
    )
    save(fig, paths)


def plot_confidence(
    results: Mapping[str, Mapping[str, np.ndarray]], test_allowed: np.ndarray, paths: Sequence[str | Path]
) -> None:
    """Accuracy and coverage versus the confidence threshold, per classifier: calibrated (left) and raw |2P - 1|.

    Args:
        results: Classifier -> ``p_allowed`` and ``calibrated_confidence`` of the test points.
        test_allowed: Their labels.
        paths: Figure files (PNG, PDF).
    """
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    levels = np.linspace(0, 0.99, 100)
    scales = {
        "calibrated confidence (validation accuracy of the P bin)": "calibrated_confidence",
        "raw confidence |2P - 1|": None,
    }
    for ax, (title, key) in zip(axes, scales.items(), strict=True):
        for name, p in results.items():
            conf = p[key] if key else confidence(p["p_allowed"])
            accuracy, coverage = accuracy_curve(test_allowed, conf, p["p_allowed"], levels)
            (line,) = ax.plot(levels, accuracy, label=f"{DISPLAY.get(name, name)} accuracy")
            ax.plot(levels, coverage, ls="--", color=line.get_color(), label=f"{DISPLAY.get(name, name)} coverage")
        ax.set_xlabel(f"threshold of the {title}")
        ax.set_ylim(0, 1.1)
        label(ax, com_tev=13)
    axes[0].set_ylabel("fraction of the test points")
    axes[0].legend(fontsize=8, loc="lower left")
    save(fig, paths)


def plot_efficiency_grid(rows: Sequence[Mapping[str, float]], paths: Sequence[str | Path]) -> None:
    """Efficiency versus m_chi10 / m_gluino per gluino mass and region, grid points and parametrisation.

    The Pythia8 grid points carry their errors; the recast's parametrisation (dashed) is drawn at the same masses.

    Args:
        rows: The grid (:func:`ml4hep.susy.grid.read_grid`).
        paths: Figure files (PNG, PDF).
    """
    fig, axes = plt.subplots(1, len(GRID_REGIONS), figsize=(13, 5.5), squeeze=False)
    fractions = np.linspace(0, 0.99, 100)
    for ax, region in zip(axes[0], GRID_REGIONS, strict=True):
        for m_gluino in sorted({r["m_gluino"] for r in rows}):
            points = [r for r in rows if r["m_gluino"] == m_gluino]
            line = ax.errorbar(
                [r["lsp_fraction"] for r in points],
                [r[f"eff_{region}"] for r in points],
                yerr=[r[f"err_{region}"] for r in points],
                marker="o",
                ls="",
                label=f"$m_{{\\tilde g}}$ = {m_gluino:g} GeV",
            )
            ax.plot(fractions, parametrised_curve(region, m_gluino, fractions), ls="--", color=line[0].get_color())
        ax.set_xlabel(r"$m_{\tilde\chi^0_1} / m_{\tilde g}$")
        ax.set_ylabel(f"efficiency ({region})")
        ax.legend(fontsize=9, title="points: Pythia8 + FastJet grid\ndashed: parametrisation", title_fontsize=9)
        label(ax, com_tev=13)
    save(fig, paths)
