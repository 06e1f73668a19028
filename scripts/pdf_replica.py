"""Rule pdf_replica_batch: fit a batch of Monte Carlo replicas as one vectorised model, each with its own seed,
data replica, training/validation split and early stopping, and write every replica's files into the batch folder."""

from pathlib import Path

import torch

from ml4hep.pdf.fit import run_replicas
from ml4hep.rules import rule_context

with rule_context(snakemake):
    torch.set_num_threads(snakemake.threads)
    folder = Path(snakemake.output.batch)
    names = [f"replica{r}" for r in snakemake.params.replicas]  # pdf_replica copies them under these names
    run_replicas(
        snakemake.input.inputs,
        snakemake.params.options,
        snakemake.params.seeds,
        snakemake.params.device,
        [str(folder / f"{name}.npz") for name in names],
        [str(folder / f"{name}.pt") for name in names],
    )
