"""Rule sample_summary: table of all samples (entries, cross sections, sizes, rates)."""

from ml4hep.rules import rule_context
from ml4hep.samples import summarize, write_summary

with rule_context(snakemake):
    write_summary(summarize(snakemake.params.samples), snakemake.output.csv, snakemake.output.md)
