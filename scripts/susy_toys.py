"""Rule susy_toys: pyhf toy CLs of the small-background signal regions on a grid of expected signal."""

from ml4hep.rules import rule_context
from ml4hep.susy.toys import toys_job

with rule_context(snakemake) as log:
    record = toys_job(snakemake.params.regions, snakemake.params.options, snakemake.params.seed, snakemake.output.table)
    log.info("toys: %s regions, %.1f CPU-s", ", ".join(record["regions"]) or "no", record["cpu_seconds"])
