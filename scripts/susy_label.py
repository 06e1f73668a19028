"""Rule susy_label: the recast (spectrum, cross sections, yields, pyhf CLs) of every point of one scan shard."""

from ml4hep.io import write_json
from ml4hep.rules import rule_context
from ml4hep.susy.grid import grid_overrides
from ml4hep.susy.recast import label_shard
from ml4hep.susy.toys import read_toys

with rule_context(snakemake):
    recast = snakemake.params.recast
    grid = list(snakemake.input.grid)
    summary = label_shard(
        snakemake.input.points,
        snakemake.output.labels,
        recast["signal_regions"],
        recast["luminosity_fb"],
        recast["min_signal_events"],
        recast["xsec_order"],
        overrides=grid_overrides(grid[0] if grid else None),
        toys=read_toys(list(snakemake.input.toys)),
    )
    write_json(snakemake.output.summary, summary)
