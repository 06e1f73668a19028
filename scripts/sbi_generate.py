"""Rule sbi_generate: one shard of the sbi simulator (nominal with the shower weights, or direct at θ1)."""

from ml4hep.generate.sbi import generate_sbi_shard
from ml4hep.rules import rule_context

with rule_context(snakemake):
    p = snakemake.params
    generate_sbi_shard(snakemake.output[0], events=p.events, seed=p.seed, theta=p.theta, **p.settings)
