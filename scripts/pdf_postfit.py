"""Rule pdf_postfit: reject outlier replicas (documented rule in ml4hep.pdf.postfit) and write the ensemble."""

from ml4hep.io import write_json
from ml4hep.pdf.postfit import postfit
from ml4hep.rules import rule_context

with rule_context(snakemake):
    n = snakemake.params.replicas
    files = list(snakemake.input.replicas)
    per_fit = [files[k * n : (k + 1) * n] for k in range(len(snakemake.input.inputs))]
    summary = postfit(list(snakemake.input.inputs), per_fit, snakemake.params.options, snakemake.output.ensemble)
    write_json(snakemake.output.summary, summary)
