"""Rule higgs_metrics: the Higgs task's headline metrics.json from the outputs of its rules."""

from ml4hep.higgs.summary import assemble_metrics
from ml4hep.io import write_json
from ml4hep.rules import rule_context

with rule_context(snakemake):
    paths = {key: value for key, value in snakemake.input.items() if key != "code"}
    write_json(snakemake.output[0], assemble_metrics(paths))
