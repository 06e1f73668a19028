"""Rule generate_sample: one shard of one process, Pythia8 + FastJet -> ROOT."""

from ml4hep.generate.shard import generate_shard
from ml4hep.rules import rule_context

with rule_context(snakemake):
    generate_shard(snakemake.params.spec, int(snakemake.wildcards.shard), snakemake.params.config, snakemake.output[0])
