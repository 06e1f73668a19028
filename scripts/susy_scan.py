"""Rule susy_scan: sample one shard of pMSSM-19 points (ROOT, and SLHA files on request)."""

from ml4hep.rules import rule_context
from ml4hep.susy.scan import scan_shard

with rule_context(snakemake) as log:
    n, first_id = snakemake.params.size
    log.info(
        "%s",
        scan_shard(
            n,
            snakemake.params.seed,
            snakemake.params.ranges,
            snakemake.output.points,
            snakemake.params.slha_dir,
            first_id,
        ),
    )
