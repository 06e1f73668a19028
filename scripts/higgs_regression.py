"""Rule higgs_regression: DNN regression of the true di-tau mass (out-of-fold on the training split); its
resolution and bias against the visible and collinear masses on the test split."""

from ml4hep.higgs.regression import MassRegressor, regression_splits, summarise_regression
from ml4hep.models.step import fit_context, train_and_score
from ml4hep.rules import rule_context

with rule_context(snakemake):
    inputs = {split: snakemake.input[split] for split in ("train", "val", "test")}
    splits = regression_splits(inputs)
    model = MassRegressor(**snakemake.params.hyper)
    train_and_score(
        model,
        splits,
        fit_context(snakemake, inputs),
        model_path=snakemake.output.model,
        scores_path=snakemake.output.predictions,
        info_path=snakemake.output.metrics,
        onnx_path=snakemake.output.onnx,
        samples=[str(name) for name in splits["train"]["process_names"]],
        info={"hyper": model.hyper},
        summarise=summarise_regression,
    )
