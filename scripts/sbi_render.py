"""Rule sbi_render: the intervals table, the −2 ln r and validation figures and the task's metrics.json."""

import json
from pathlib import Path

from ml4hep.io import write_json
from ml4hep.plots.sbi import plot_llr, plot_validation
from ml4hep.rules import rule_context
from ml4hep.sbi.estimators import SBI_ESTIMATORS
from ml4hep.sbi.summary import interval_rows, task_metrics, write_intervals
from ml4hep.sbi.truth import BinnedTruth

with rule_context(snakemake):
    out = snakemake.output
    inference = json.loads(Path(snakemake.input.inference).read_text())
    validation = json.loads(Path(snakemake.input.validation).read_text())
    reference = json.loads(Path(snakemake.input.reference).read_text())
    names = {"truth": BinnedTruth.display_name, **SBI_ESTIMATORS.display_names()}
    write_intervals(interval_rows(inference, names), out.csv, out.md, inference["events"], html=out.html)
    plot_llr(inference, names, [out.llr, out.llr_pdf])
    plot_validation(validation, [out.validation, out.validation_pdf])
    metrics = task_metrics(inference, validation, validation["gold"], names)
    write_json(out.metrics, {**metrics, "reference": reference})
