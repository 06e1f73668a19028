"""Rule pdf_replica: fit one Monte Carlo replica (its own seed, data replica and training/validation split)."""

import torch

from ml4hep.pdf.fit import run_replica
from ml4hep.rules import rule_context

with rule_context(snakemake):
    torch.set_num_threads(snakemake.threads)
    run_replica(snakemake.input.inputs, snakemake.params.options, snakemake.params.seed, snakemake.params.device,
                snakemake.output.replica, snakemake.output.model)
