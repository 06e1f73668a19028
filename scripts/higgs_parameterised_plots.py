"""Rule higgs_parameterised_plots: the AUC table, the AUC-vs-mass curves (CSV) and their figure from the metrics."""

import json

from ml4hep.higgs.parameterised_table import curve_from_metrics, table_rows, write_auc_table, write_curve_table
from ml4hep.plots.higgs_mass import plot_auc_vs_mass
from ml4hep.rules import rule_context

with rule_context(snakemake):
    out = snakemake.output
    with open(snakemake.input.metrics) as stream:
        metrics = json.load(stream)
    write_auc_table(table_rows(metrics), out.csv, out.md, out.tex)
    curve = curve_from_metrics(metrics)
    write_curve_table(curve, out.curve)
    plot_auc_vs_mass(curve, metrics["mass_left_out"], [out.plot, out.plot_pdf])
