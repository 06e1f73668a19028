"""Rule pdf_theory: build one FK table (a dataset, the positivity observables or the evolution to Q) with eko."""

from ml4hep.pdf.theory import build_table
from ml4hep.rules import rule_context

with rule_context(snakemake):
    build_table(
        snakemake.params.kind,
        snakemake.params.settings,
        snakemake.output[0],
        dataset=snakemake.params.dataset,
        variant=snakemake.params.variant,
        evolve_to_q=snakemake.params.settings["evolve_to_q"],
    )
