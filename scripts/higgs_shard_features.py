"""Rule higgs_shard_features: lep-had selection and HiggsML features of the events of one sample shard."""

from ml4hep.chunked import limit_heap_growth
from ml4hep.higgs.dataset import shard_table
from ml4hep.rules import rule_context

with rule_context(snakemake) as log:
    limit_heap_growth()
    selected = shard_table(
        snakemake.input.sample,
        snakemake.wildcards.sample,
        int(snakemake.wildcards.shard),
        snakemake.params.role,
        float(snakemake.params.jet_pt_min),
        snakemake.output[0],
    )
    log.info("%s shard %s: %d selected events", snakemake.wildcards.sample, snakemake.wildcards.shard, selected)
