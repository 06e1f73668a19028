"""Rules susy_train_{rf,bdt,mlp}: train one classifier of the recast label."""

import torch

from ml4hep.rules import rule_context
from ml4hep.susy.classifiers import load_split, train_classifier, write_info

with rule_context(snakemake):
    torch.set_num_threads(snakemake.threads)
    info = train_classifier(snakemake.wildcards.classifier, load_split(snakemake.input.train),
                            load_split(snakemake.input.val), snakemake.params.hyper, snakemake.params.seed,
                            snakemake.params.device, snakemake.output.model, snakemake.threads)
    write_info(snakemake.output.info, info)
