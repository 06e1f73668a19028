"""Rule susy_efficiency_grid_plot: the efficiency grid against the parametrisation, from the grid CSV."""

from ml4hep.plots.susy import plot_efficiency_grid
from ml4hep.rules import rule_context
from ml4hep.susy.grid import read_grid

with rule_context(snakemake):
    plot_efficiency_grid(read_grid(snakemake.input.grid), [snakemake.output.plot, snakemake.output.plot_pdf])
