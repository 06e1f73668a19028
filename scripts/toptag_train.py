"""Rules toptag_train_baseline / toptag_train_network: train one tagger, write model, scores and info."""

import torch

from ml4hep.rules import rule_context
from ml4hep.toptag.taggers import train_tagger

with rule_context(snakemake):
    torch.set_num_threads(snakemake.threads)
    train_tagger(
        snakemake.wildcards.tagger,
        {split: snakemake.input[split] for split in ("train", "val", "test")},
        snakemake.params.options,
        snakemake.params.seed,
        snakemake.params.device,
        snakemake.output.model,
        snakemake.output.scores,
        snakemake.output.info,
    )
