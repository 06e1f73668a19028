"""Rule susy_active_pool: the unlabelled pool of pMSSM-19 points and the recast labels of the random initial set."""

from ml4hep.io import write_json
from ml4hep.rules import rule_context
from ml4hep.susy.active import pool_job
from ml4hep.susy.grid import grid_overrides
from ml4hep.susy.toys import read_toys

with rule_context(snakemake) as log:
    grid = list(snakemake.input.grid)
    summary = pool_job(
        snakemake.params.options,
        snakemake.params.ranges,
        snakemake.params.inputs,
        snakemake.params.recast,
        snakemake.params.seeds,
        snakemake.output.pool,
        dict(zip(snakemake.params.strategies, snakemake.output.labelled, strict=True)),
        overrides=grid_overrides(grid[0] if grid else None),
        toys=read_toys(list(snakemake.input.toys)),
    )
    log.info("%s", summary)
    write_json(snakemake.output.summary, summary)
