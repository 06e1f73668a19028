"""Rule higgs_features: the train/val/test event tables from the shards' tables (selection and features done per
shard by higgs_shard_features), each shard split by its own seed."""

import json

from ml4hep.higgs.dataset import split_tables
from ml4hep.rules import rule_context

with rule_context(snakemake) as log:
    summary = split_tables(
        snakemake.params.tables,
        snakemake.params.options,
        snakemake.params.seed,
        {s: snakemake.output[s] for s in ("train", "val", "test")},
    )
    with open(snakemake.output.summary, "w") as stream:
        json.dump(summary, stream, indent=2)
    log.info("selected events and expected yields: %s", summary)
