"""Rule higgs_evaluate: AUC and AMS (threshold from validation) with bootstrap errors, tables and plots."""

from ml4hep.higgs.evaluate import evaluate_classifiers, write_metrics, write_tables
from ml4hep.plots.higgs import plot_black_box, plot_performance
from ml4hep.rules import rule_context

with rule_context(snakemake):
    splits = {"val": snakemake.input.val, "test": snakemake.input.test}
    classifiers = snakemake.params.classifiers
    scores = dict(zip(classifiers, snakemake.input.scores, strict=True))
    metrics = evaluate_classifiers(
        splits,
        scores,
        snakemake.params.heavy,
        snakemake.params.regularisation,
        snakemake.params.bootstrap,
        snakemake.params.seed,
        snakemake.params.ams_selection,
    )
    write_metrics(snakemake.output.metrics, metrics)
    write_tables(metrics, snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    plot_performance(
        splits,
        scores,
        snakemake.params.heavy,
        metrics,
        snakemake.params.regularisation,
        [snakemake.output.roc, snakemake.output.roc_pdf],
        [snakemake.output.ams, snakemake.output.ams_pdf],
        [snakemake.output.scores, snakemake.output.scores_pdf],
    )
    infos = dict(zip(classifiers, snakemake.input.infos, strict=True))
    plot_black_box(
        snakemake.input.test,
        scores["bdt"],
        infos["bdt"],
        snakemake.params.heavy,
        metrics["threshold"]["bdt"],
        [snakemake.output.black_box, snakemake.output.black_box_pdf],
        [snakemake.output.importance, snakemake.output.importance_pdf],
    )
