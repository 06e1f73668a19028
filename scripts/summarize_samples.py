"""Rule sample_summary: table of all samples (entries, cross sections, sizes, rates) and the overview plot."""

from ml4hep.rules import rule_context
from ml4hep.samples import plot_overview, summarize, write_summary

with rule_context(snakemake):
    write_summary(summarize(snakemake.params.samples), snakemake.output.csv, snakemake.output.md)
    plot_overview(snakemake.params.samples, [snakemake.output.plot, snakemake.output.pdf])
