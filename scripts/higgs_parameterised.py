"""Rule higgs_parameterised: parameterised vs dedicated vs unparameterised networks for the heavy Higgs."""

from pathlib import Path

import torch

from ml4hep.higgs.parameterised import run_parameterised
from ml4hep.rules import rule_context

with rule_context(snakemake):
    torch.set_num_threads(snakemake.threads)
    hyper = dict(snakemake.params.hyper)
    run_parameterised(
        {s: snakemake.input[s] for s in ("train", "val", "test")},
        [tuple(h) for h in snakemake.params.heavy],
        snakemake.params.backgrounds,
        hyper.pop("left_out_mass"),
        hyper,
        snakemake.params.seed,
        snakemake.params.device,
        Path(snakemake.output.model).parent,
        snakemake.output.metrics,
    )
