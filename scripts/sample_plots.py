"""Rule sample_plots: the physics overview plot of every sample."""

from ml4hep.plots.samples import plot_overview
from ml4hep.rules import rule_context

with rule_context(snakemake):
    plot_overview(snakemake.params.samples, [snakemake.output.plot, snakemake.output.pdf])
