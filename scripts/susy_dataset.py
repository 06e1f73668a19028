"""Rule susy_dataset: merge the label shards, keep neutralino-LSP points, split train/val/test by seed."""

from ml4hep.io import write_json
from ml4hep.rules import rule_context
from ml4hep.susy.dataset import build_dataset

with rule_context(snakemake) as log:
    outputs = {split: snakemake.output[split] for split in ("train", "val", "test")}
    summary = build_dataset(
        list(snakemake.input.labels), outputs, snakemake.params.split, snakemake.params.inputs, snakemake.params.seed
    )
    log.info("%s", summary)
    write_json(snakemake.output.summary, summary)
