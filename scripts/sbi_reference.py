"""Rule sbi_reference: the binned truth reference from the separate reference sample, on the inference grid."""

from ml4hep.io import write_json
from ml4hep.rules import rule_context
from ml4hep.sbi.dataset import read_shards
from ml4hep.sbi.gold import fit_coefficients
from ml4hep.sbi.inference import theta_grid
from ml4hep.sbi.truth import BinnedTruth

with rule_context(snakemake) as log:
    p = snakemake.params
    reference = read_shards(snakemake.input.reference, weights=True)
    coefficients = fit_coefficients(reference["weights"], reference["thetas"], p.degree)
    truth = BinnedTruth.fill(
        reference["X"], coefficients, p.observables, p.bins, theta_grid(p.variations, p.grid_points)
    )
    truth.save(snakemake.output.model)
    write_json(snakemake.output.info, truth.summary())
    log.info("truth reference: %s", truth.summary())
