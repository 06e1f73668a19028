"""Rule generate_sample: one shard of one process, Pythia8 + FastJet -> ROOT."""

from ml4hep.generate.processes import ProcessSpec
from ml4hep.generate.shard import generate_shard
from ml4hep.rules import rule_context

with rule_context(snakemake):
    spec = ProcessSpec.from_dict(snakemake.params.spec)
    generate_shard(spec, int(snakemake.wildcards.shard), snakemake.params.config, snakemake.output[0])
