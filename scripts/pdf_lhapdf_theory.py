"""Rule pdf_lhapdf_theory: the evolution operators from Q0 to the LHAPDF grid's Q knots, built once with eko."""

from ml4hep.pdf.theory import build_lhapdf_evolution, save_table
from ml4hep.rules import rule_context

with rule_context(snakemake) as log:
    content = build_lhapdf_evolution(snakemake.params.settings, snakemake.params.q_knots)
    save_table(content, snakemake.output[0], snakemake.params.settings)
    log.info("%d knots in %.1f s", len(content["q"]), float(content["seconds"]))
