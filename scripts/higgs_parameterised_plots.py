"""Rule higgs_parameterised_plots: the AUC table and the "AUC vs mass" figure from the parameterised metrics."""

import json

from ml4hep.higgs.parameterised_table import table_rows, write_auc_table
from ml4hep.plots.higgs_mass import plot_auc_vs_mass
from ml4hep.rules import rule_context

with rule_context(snakemake):
    out = snakemake.output
    with open(snakemake.input.metrics) as stream:
        metrics = json.load(stream)
    rows = table_rows(metrics)
    write_auc_table(rows, out.csv, out.md, out.tex)
    plot_auc_vs_mass(rows, metrics["mass_left_out"], [out.plot, out.plot_pdf])
