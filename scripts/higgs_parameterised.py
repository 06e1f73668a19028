"""Rule higgs_parameterised: parameterised vs dedicated vs unparameterised networks for the heavy Higgs."""

from pathlib import Path

from ml4hep.higgs.parameterised import run_parameterised
from ml4hep.models.step import fit_context
from ml4hep.rules import rule_context

with rule_context(snakemake):
    inputs = {s: snakemake.input[s] for s in ("train", "val", "test")}
    hyper = dict(snakemake.params.hyper)
    run_parameterised(
        inputs,
        [tuple(h) for h in snakemake.params.heavy],
        snakemake.params.backgrounds,
        hyper.pop("left_out_mass"),
        hyper,
        fit_context(snakemake, inputs),
        Path(snakemake.output.model).parent,
        snakemake.output.metrics,
    )
