"""Rule susy_workspaces: three benchmark points of the scan and their recast models as HistFactory workspaces."""

from ml4hep.rules import rule_context
from ml4hep.susy.benchmarks import ROLES, write_benchmarks

with rule_context(snakemake) as log:
    out = snakemake.output
    rows = write_benchmarks(
        list(snakemake.input.labels),
        snakemake.params.recast["signal_regions"],
        dict(zip(ROLES, out.workspaces, strict=True)),
        out.csv,
        out.md,
        out.html,
    )
    log.info("benchmarks: %s", ", ".join(f"{r['role']} point {r['point_id']} CLs {r['cls_obs']:.3g}" for r in rows))
