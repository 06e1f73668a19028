"""Rule higgs_train_classifier: train the visible-mass window, the BDT or the DNN; write model, scores and info."""

import torch

from ml4hep.higgs.classifiers import train_classifier
from ml4hep.rules import rule_context

with rule_context(snakemake):
    torch.set_num_threads(snakemake.threads)
    train_classifier(snakemake.wildcards.classifier, {s: snakemake.input[s] for s in ("train", "val", "test")},
                     snakemake.params.options, snakemake.params.heavy, snakemake.params.seed, snakemake.params.device,
                     snakemake.output.model, snakemake.output.scores, snakemake.output.info)
