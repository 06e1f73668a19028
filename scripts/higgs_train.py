"""Rules higgs_train_baseline / higgs_train_dnn: train the visible-mass window, a BDT or the DNN (and its ONNX graph).

The split files are streamed (the DNN's training and every model's scoring read them chunk by chunk)."""

from ml4hep.chunked import limit_heap_growth
from ml4hep.higgs.classifiers import CLASSIFIERS, classifier_splits
from ml4hep.models.step import fit_context, train_and_score
from ml4hep.rules import rule_context

with rule_context(snakemake):
    limit_heap_growth()
    inputs = {split: snakemake.input[split] for split in ("train", "val", "test")}
    regressed_mass = list(snakemake.input.get("regressed_mass", []))
    splits = classifier_splits(inputs, snakemake.params.heavy, regressed_mass[0] if regressed_mass else None)
    context = fit_context(snakemake, inputs)
    train_and_score(
        CLASSIFIERS.create(snakemake.wildcards.classifier, snakemake.params.hyper),
        splits,
        context,
        model_path=snakemake.output.model,
        scores_path=snakemake.output.scores,
        info_path=snakemake.output.info,
        onnx_path=snakemake.output.get("onnx"),  # the DNN's graph (checked against torch); none for the others
        samples=[str(name) for name in splits["train"]["process_names"]],
        info={"classifier": snakemake.wildcards.classifier},
    )
