"""Rule higgs_limits: expected CLs limits on mu and expected significances per classifier (pyhf)."""

from ml4hep.higgs.limits import classifier_limits, write_limit_tables
from ml4hep.io import write_json
from ml4hep.rules import rule_context

with rule_context(snakemake):
    scores = dict(zip(snakemake.params.classifiers, snakemake.input.scores, strict=True))
    limits = classifier_limits(snakemake.input.test, scores, snakemake.params.heavy, snakemake.params.options)
    write_json(snakemake.output.limits, limits)
    write_limit_tables(limits, snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
