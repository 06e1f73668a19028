"""Rule higgs_heavy_limits: expected limits on sigma x BR(H -> tautau) vs mass (the Brazil plot is a render rule)."""

import csv

from ml4hep.higgs.limits import heavy_mass_limits, write_heavy_limit_tables
from ml4hep.io import write_json
from ml4hep.rules import rule_context

with rule_context(snakemake):
    with open(snakemake.input.samples) as stream:
        sigma_pb = {row["sample"]: float(row["sigma_pb"]) for row in csv.DictReader(stream)}
    heavy = [tuple(h) for h in snakemake.params.heavy]
    limits = heavy_mass_limits(
        snakemake.input.test,
        snakemake.input.model,
        heavy,
        snakemake.params.backgrounds,
        sigma_pb,
        snakemake.params.left_out_mass,
        snakemake.params.options,
    )
    write_json(snakemake.output.limits, limits)
    write_heavy_limit_tables(limits, snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
