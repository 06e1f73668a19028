"""Rules toptag_train_flatness_bdt / _uboost / _disco: one decorrelated tagger per strength, with its scores.

Only the substructure, label and origin columns of the splits are read (whole): the decorrelated taggers never
read the constituents or images.
"""

from ml4hep.rules import rule_context
from ml4hep.toptag.decorrelated import train_strengths

with rule_context(snakemake):
    train_strengths(
        snakemake.params.method,
        snakemake.params.hyper,
        snakemake.params.strengths,
        {split: snakemake.input[split] for split in ("train", "val", "test")},
        models=snakemake.output.models,
        scores=snakemake.output.scores,
        infos=snakemake.output.infos,
        seed=snakemake.params.seed,
        threads=snakemake.threads,
        samples=snakemake.params.samples,
    )
