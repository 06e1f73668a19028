"""Rule provenance: config, its hash, git commit, package versions, seeds, devices and job times of the run."""

from pathlib import Path

from ml4hep.io import write_json
from ml4hep.provenance import collect_provenance
from ml4hep.report_pages import write_pages
from ml4hep.rules import rule_context

with rule_context(snakemake):
    record = collect_provenance(
        snakemake.params.config,
        snakemake.params.workflow,
        list(snakemake.input.infos),
        Path(snakemake.output[0]).parent / "benchmarks",
    )
    write_json(snakemake.output[0], record)
    write_pages(record, snakemake.output.config_page, snakemake.output.page)
