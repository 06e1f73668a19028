"""Rule toptag_evaluate: metrics with bootstrap errors (and the sculpting numbers), the landscape-style table and the
ROC plot."""

import json

from ml4hep.io import write_json
from ml4hep.plots.toptag import plot_rocs
from ml4hep.rules import rule_context
from ml4hep.toptag.decorrelation import add_to_metrics
from ml4hep.toptag.evaluate import evaluate_taggers, write_tables

with rule_context(snakemake):
    taggers = snakemake.params.taggers
    scores = dict(zip(taggers, snakemake.input.scores, strict=True))
    infos = dict(zip(taggers, snakemake.input.infos, strict=True))
    metrics = evaluate_taggers(
        snakemake.input.test, snakemake.input.val, scores, infos, snakemake.params.bootstrap, snakemake.params.seed
    )
    with open(snakemake.input.decorrelation) as decorrelation:
        add_to_metrics(metrics, json.load(decorrelation))
    write_json(snakemake.output.metrics, metrics)
    write_tables(metrics, snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    plot_rocs(snakemake.input.test, scores, metrics, [snakemake.output.roc, snakemake.output.roc_pdf])
