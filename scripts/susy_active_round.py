"""Rule susy_active_round: one round of both strategies (train, score the pool, label the chosen batch)."""

from ml4hep.io import write_json
from ml4hep.rules import rule_context
from ml4hep.susy.active import round_job
from ml4hep.susy.grid import grid_overrides
from ml4hep.susy.toys import read_toys

with rule_context(snakemake):
    strategies = snakemake.params.strategies
    grid = list(snakemake.input.grid)
    record = round_job(
        int(snakemake.wildcards.round),
        snakemake.params.options,
        snakemake.params.hyper,
        snakemake.params.recast,
        snakemake.params.seeds,
        snakemake.input.pool,
        snakemake.input.test,
        snakemake.input.val,
        dict(zip(strategies, snakemake.input.previous, strict=True)),
        dict(zip(strategies, snakemake.output.labelled, strict=True)),
        overrides=grid_overrides(grid[0] if grid else None),
        toys=read_toys(list(snakemake.input.toys)),
    )
    write_json(snakemake.output.record, record)
