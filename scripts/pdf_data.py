"""Rule pdf_data: read one DIS dataset from nnpdf-data and cache its arrays."""

from ml4hep.pdf.commondata import load_dataset, save_dataset
from ml4hep.rules import rule_context

with rule_context(snakemake) as log:
    dataset = load_dataset(snakemake.wildcards.dataset, snakemake.params.variant)
    log.info("%s: %d points", dataset.name, len(dataset))
    save_dataset(dataset, snakemake.output[0])
