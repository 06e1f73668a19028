"""Rule import_sample: check a user-supplied file (ROOT, HiggsML CSV or TopLandscape HDF5) and write it as a sample."""

from ml4hep.rules import rule_context
from ml4hep.samples import import_sample

with rule_context(snakemake):
    import_sample(
        snakemake.params.entry, snakemake.params.source, snakemake.output[0], snakemake.params.max_constituents
    )
