"""Rule pdf_lhapdf: the fitted ensemble (and the closure truth) as LHAPDF6 sets."""

from ml4hep.pdf.lhapdf import write_lhapdf_sets
from ml4hep.rules import rule_context

with rule_context(snakemake) as log:
    summary = write_lhapdf_sets(
        snakemake.input.ensemble,
        snakemake.input.evolution,
        snakemake.params.options,
        snakemake.output.fit,
        snakemake.output.get("truth"),
    )
    log.info("LHAPDF sets: %s", summary)
