"""Rules susy_train_{rf,bdt,mlp}: train one classifier of the recast label, write model, scores and info."""

from functools import partial

from ml4hep.models.step import fit_context, train_and_score
from ml4hep.rules import rule_context
from ml4hep.susy.classifiers import CLASSIFIERS, classifier_inputs, load_split, validation_summary

with rule_context(snakemake):
    inputs = {split: snakemake.input[split] for split in ("train", "val", "test")}
    context = fit_context(snakemake, inputs)
    train_and_score(
        CLASSIFIERS.create(snakemake.wildcards.classifier, snakemake.params.hyper),
        {split: load_split(path) for split, path in inputs.items()},
        context,
        model_path=snakemake.output.model,
        scores_path=snakemake.output.scores,
        info_path=snakemake.output.info,
        label="allowed",
        info={"classifier": snakemake.wildcards.classifier},
        summarise=partial(
            validation_summary, inputs=classifier_inputs(snakemake.wildcards.classifier, snakemake.params.inputs)
        ),
    )
