"""Rule pdf_inputs: data after cuts, FK tables, covariances and closure pseudo-data of one fit."""

from ml4hep.pdf.pseudodata import build_inputs
from ml4hep.rules import rule_context

with rule_context(snakemake):
    inputs = build_inputs(
        dict(zip(snakemake.params.datasets, snakemake.input.data, strict=True)),
        dict(zip(snakemake.params.datasets, snakemake.input.fk, strict=True)),
        snakemake.input.positivity,
        snakemake.params.options,
        snakemake.params.seed,
    )
    inputs.save(snakemake.output[0])
