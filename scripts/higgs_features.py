"""Rule higgs_features: lep-had selection and HiggsML features of every process, split into train/val/test."""

import json

from ml4hep.higgs.dataset import build_dataset
from ml4hep.rules import rule_context

with rule_context(snakemake) as log:
    summary = build_dataset(snakemake.params.samples, snakemake.params.roles, snakemake.params.options,
                            snakemake.params.seed, {s: snakemake.output[s] for s in ("train", "val", "test")})
    with open(snakemake.output.summary, "w") as stream:
        json.dump(summary, stream, indent=2)
    log.info("selected events and expected yields: %s", summary)
