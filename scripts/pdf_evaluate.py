"""Rule pdf_evaluate: chi2 tables, closure estimators, sum rules, evolved ensemble, band plots, metrics.json."""

from ml4hep.pdf.evaluate import evaluate
from ml4hep.rules import rule_context

with rule_context(snakemake):
    outputs = {key: str(value) for key, value in snakemake.output.items()}
    evaluate(
        list(snakemake.input.inputs),
        snakemake.input.ensemble,
        snakemake.input.postfit,
        snakemake.input.evolution,
        list(snakemake.input.curves),
        snakemake.params.options,
        snakemake.params.seed,
        outputs,
    )
