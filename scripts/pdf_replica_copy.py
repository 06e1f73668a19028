"""Rule pdf_replica: one replica's files, copied out of its batch folder (other rules read them here)."""

import shutil
from pathlib import Path

from ml4hep.rules import rule_context

with rule_context(snakemake) as log:
    for path in snakemake.output:
        shutil.copyfile(Path(snakemake.input.batch) / Path(path).name, path)
        log.info("copied %s from %s", path, snakemake.input.batch)
