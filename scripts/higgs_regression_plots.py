"""Rule higgs_regression_plots: the resolution table and the mass-regression figure from the regression's outputs."""

import json

from ml4hep.higgs.resolution import estimates_on_test, metrics_bins, table_rows, write_resolution_table
from ml4hep.plots.higgs_mass import plot_regression
from ml4hep.rules import rule_context

with rule_context(snakemake):
    out = snakemake.output
    with open(snakemake.input.metrics) as stream:
        metrics = json.load(stream)
    write_resolution_table(table_rows(metrics), out.csv, out.md, out.tex)
    truth, estimates = estimates_on_test(snakemake.input.test, snakemake.input.predictions)
    plot_regression(truth, estimates, [out.plot, out.plot_pdf], metrics_bins(metrics))
