"""Rule toptag_features: constituents, jet images and substructure of all jets, split into train/val/test."""

from ml4hep.rules import rule_context
from ml4hep.toptag.preprocess import build_features

with rule_context(snakemake) as log:
    counts = build_features(snakemake.params.samples, snakemake.params.options, snakemake.params.seed,
                            {split: snakemake.output[split] for split in ("train", "val", "test")})
    log.info("jets per split: %s", counts)
