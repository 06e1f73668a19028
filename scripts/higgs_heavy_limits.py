"""Rule higgs_heavy_limits: expected limits on sigma x BR(H -> tautau) vs mass and their workspaces (the Brazil plot
is a render rule)."""

import csv

from ml4hep.higgs.limits import heavy_mass_limits, write_heavy_limit_tables, write_limit_workspaces
from ml4hep.io import write_json
from ml4hep.rules import rule_context

with rule_context(snakemake):
    out = snakemake.output
    with open(snakemake.input.samples) as stream:
        sigma_pb = {row["sample"]: float(row["sigma_pb"]) for row in csv.DictReader(stream)}
    heavy = [tuple(h) for h in snakemake.params.heavy]
    limits = heavy_mass_limits(
        snakemake.input.val,
        snakemake.input.test,
        snakemake.input.model,
        heavy,
        snakemake.params.backgrounds,
        sigma_pb,
        snakemake.params.left_out_mass,
        snakemake.params.options,
    )
    write_json(out.limits, limits)
    write_heavy_limit_tables(limits, out.csv, out.md, out.tex, out.html)
    paths = zip(out.workspaces, out.yields_csv, out.yields_md, out.yields_html, strict=True)
    write_limit_workspaces(limits, dict(zip([f"{mass:g}" for _, mass in heavy], paths, strict=True)), "higgs_heavy_m")
