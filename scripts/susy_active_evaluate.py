"""Rule susy_active_evaluate: the last round's training, the learning curves (metrics.json, table, figure)."""

import json

from ml4hep.io import write_json
from ml4hep.plots.susy_active import plot_learning_curve
from ml4hep.rules import rule_context
from ml4hep.susy.active import evaluate_job, write_curve_table

with rule_context(snakemake):
    out = snakemake.output
    rounds = []
    for path in snakemake.input.rounds:
        with open(path) as stream:
            rounds.append(json.load(stream))
    metrics, rows = evaluate_job(
        snakemake.params.options,
        snakemake.params.hyper,
        snakemake.params.train_seed,
        snakemake.input.pool,
        snakemake.input.test,
        snakemake.input.val,
        rounds,
        dict(zip(snakemake.params.strategies, snakemake.input.final, strict=True)),
        snakemake.params.display_name,
    )
    write_json(out.metrics, metrics)
    write_curve_table(rows, metrics, {"csv": out.csv, "md": out.md, "tex": out.tex, "html": out.html})
    plot_learning_curve(metrics, [out.plot, out.plot_pdf])
