"""Rule higgs_heavy_limits: expected limits on sigma x BR(H -> tautau) vs mass (Brazil plot)."""

import csv

from ml4hep.higgs.limits import heavy_mass_limits, write_heavy_limit_tables
from ml4hep.io import write_json
from ml4hep.rules import rule_context
from ml4hep.stats import brazil_plot

with rule_context(snakemake):
    with open(snakemake.input.samples) as stream:
        sigma_pb = {row["sample"]: float(row["sigma_pb"]) for row in csv.DictReader(stream)}
    heavy = [tuple(h) for h in snakemake.params.heavy]
    limits = heavy_mass_limits(snakemake.input.test, snakemake.input.model, heavy, snakemake.params.backgrounds,
                               sigma_pb, snakemake.params.left_out_mass, snakemake.params.options)
    write_json(snakemake.output.limits, limits)
    write_heavy_limit_tables(limits, snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    brazil_plot([e["mass"] for e in limits.values()], [{"band": e["xsec_band_pb"]} for e in limits.values()],
                [snakemake.output.plot, snakemake.output.plot_pdf],
                ylabel=r"95% CL limit on $\sigma \times B(H \to \tau\tau)$ [pb]")
