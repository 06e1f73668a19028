"""Rules higgs_train_baseline / higgs_train_dnn: train the visible-mass window, a BDT or the DNN."""

import torch

from ml4hep.higgs.classifiers import train_classifier
from ml4hep.rules import rule_context

with rule_context(snakemake):
    torch.set_num_threads(snakemake.threads)
    regressed_mass = list(snakemake.input.get("regressed_mass", []))
    train_classifier(snakemake.wildcards.classifier, {s: snakemake.input[s] for s in ("train", "val", "test")},
                     snakemake.params.options, snakemake.params.heavy, snakemake.params.seed, snakemake.params.device,
                     snakemake.output.model, snakemake.output.scores, snakemake.output.info,
                     regressed_mass[0] if regressed_mass else None)
