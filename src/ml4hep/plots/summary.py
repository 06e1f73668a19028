"""The overview figure of the summary: the key plot of every task on one page."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.image as mpimg

from ml4hep.combine import TASK_TITLES
from ml4hep.plots.style import plt, save


def overview_figure(panels: Mapping[str, str | Path], outputs: Sequence[str | Path]) -> None:
    """One page with the key plot of every task (one panel each, titled by task)."""
    n = len(panels)
    columns = 2 if n > 1 else 1
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(8 * columns, 7 * rows), squeeze=False)
    for ax, (task, path) in zip(axes.flat, panels.items(), strict=False):
        ax.imshow(mpimg.imread(path))
        ax.set_title(TASK_TITLES.get(task, task), fontsize=18)
        ax.set_axis_off()
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    save(fig, outputs)
