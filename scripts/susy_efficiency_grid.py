"""Rule susy_efficiency_grid: Pythia8 + FastJet gluino efficiency grid, compared with the parametrisation."""

from ml4hep.rules import rule_context
from ml4hep.susy.grid import run_grid

with rule_context(snakemake) as log:
    log.info(
        "%s",
        run_grid(snakemake.params.options, snakemake.params.seed, snakemake.output.grid, snakemake.output.comparison),
    )
