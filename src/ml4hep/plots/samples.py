"""Figure of the sample stage: physics sanity distributions of every sample."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import awkward as ak
import numpy as np

from ml4hep.errors import InputFileError
from ml4hep.io import read_tree
from ml4hep.plots.style import label, plt, save


def plot_overview(samples: Mapping[str, Sequence[str]], outputs: Sequence[str | Path]) -> None:
    """Physics sanity plot of the samples: di-tau masses, MET, top-tagging jet mass and constituent counts.

    Args:
        samples: Sample name -> its ROOT files.
        outputs: Files to save (PNG, PDF).
    """
    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    panels = {
        (0, 0): ("truth_ditau_mass", "True di-$\\tau$ mass [GeV]", np.linspace(0, 1000, 51)),
        (0, 1): ("met", "$E_T^{miss}$ [GeV]", np.linspace(0, 300, 31)),
        (1, 0): ("jet_mass", "Jet mass [GeV]", np.linspace(0, 300, 31)),
        (1, 1): ("npart", "Constituents per jet", np.linspace(0, 200, 41)),
    }
    for name, paths in samples.items():
        for (row, col), (branch, xlabel, bins) in panels.items():
            try:
                values = ak.to_numpy(ak.concatenate([read_tree(p, [branch], allow_empty=True)[branch] for p in paths]))
            except InputFileError:
                continue  # this sample has no such branch (e.g. a top-tagging sample in a Higgs panel)
            values = values[np.isfinite(values)]
            if len(values):
                axes[row, col].hist(values, bins=bins, histtype="step", density=True, linewidth=1.5, label=name)
            axes[row, col].set_xlabel(xlabel)
            axes[row, col].set_ylabel("Normalised")
    for ax in axes.flat:
        label(ax)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=9)
    save(fig, outputs)
