"""Rule higgs_metrics: the Higgs task's headline metrics.json from the outputs of its rules."""

import json

from ml4hep.higgs.summary import assemble_metrics
from ml4hep.rules import rule_context

with rule_context(snakemake):
    paths = {key: value for key, value in snakemake.input.items() if key != "code"}
    with open(snakemake.output[0], "w") as stream:
        json.dump(assemble_metrics(paths), stream, indent=2)
