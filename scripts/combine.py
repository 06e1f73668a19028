"""Rule combine: summary.md/.tex, the table of all limits, the overview figure and the HEPData record from the
tasks' outputs."""

from pathlib import Path

from ml4hep.combine import limit_rows, write_limits, write_summary
from ml4hep.hepdata import write_record
from ml4hep.plots.summary import overview_figure
from ml4hep.rules import rule_context

with rule_context(snakemake) as log:
    out = snakemake.output
    metrics = dict(zip(snakemake.params.tasks, snakemake.input.metrics, strict=True))
    plots = dict(zip(snakemake.params.plot_tasks, snakemake.input.plots, strict=True))
    write_summary(metrics, plots, out.md, out.tex)
    rows = limit_rows(metrics, list(snakemake.input.susy_exclusion))
    write_limits(rows, out.limits_csv, out.limits_md, out.limits_tex, out.limits_html)
    overview_figure(plots, [out.overview, out.overview_pdf])
    if snakemake.params.hepdata_tables:
        tables = write_record(metrics, Path(out.hepdata_submission).parent, out.hepdata_archive)
        log.info("HEPData record: %s", ", ".join(tables))
    log.info("summary of %s; %d limit rows", ", ".join(metrics), len(rows))
