"""Rule toptag_features: the train/val/test split files from the shards' feature files, chunk by chunk."""

from ml4hep.chunked import limit_heap_growth
from ml4hep.rules import rule_context
from ml4hep.toptag.preprocess import SPLITS, split_features

with rule_context(snakemake) as log:
    limit_heap_growth()
    counts = split_features(
        snakemake.params.shards,
        snakemake.params.options,
        snakemake.params.seed,
        {split: snakemake.output[split] for split in SPLITS},
        snakemake.params.chunk_size,
    )
    log.info("jets per split: %s", counts)
