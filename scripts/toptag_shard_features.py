"""Rule toptag_shard_features: constituents, jet images and substructure of the jets of one sample shard."""

from ml4hep.chunked import limit_heap_growth
from ml4hep.rules import rule_context
from ml4hep.toptag.preprocess import shard_features

with rule_context(snakemake) as log:
    limit_heap_growth()
    jets = shard_features(
        snakemake.input.sample,
        int(snakemake.wildcards.shard),
        snakemake.params.options,
        snakemake.output[0],
        snakemake.params.chunk_size,
    )
    log.info("%s shard %s: %d jets", snakemake.wildcards.sample, snakemake.wildcards.shard, jets)
