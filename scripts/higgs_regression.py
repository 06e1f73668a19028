"""Rule higgs_regression: DNN regression of the true di-tau mass; resolution and bias vs visible/collinear mass."""

import torch

from ml4hep.higgs.regression import run_regression
from ml4hep.rules import rule_context

with rule_context(snakemake):
    torch.set_num_threads(snakemake.threads)
    run_regression(
        {s: snakemake.input[s] for s in ("train", "val", "test")},
        snakemake.params.hyper,
        snakemake.params.seed,
        snakemake.params.device,
        snakemake.output.model,
        snakemake.output.predictions,
        snakemake.output.metrics,
    )
