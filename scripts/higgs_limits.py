"""Rule higgs_limits: expected CLs limits on mu, expected significances and workspaces per classifier (pyhf)."""

from ml4hep.higgs.limits import classifier_limits, write_limit_tables, write_limit_workspaces
from ml4hep.io import write_json
from ml4hep.rules import rule_context

with rule_context(snakemake):
    out = snakemake.output
    names = snakemake.params.classifiers
    scores = dict(zip(names, snakemake.input.scores, strict=True))
    limits = classifier_limits(
        snakemake.input.val, snakemake.input.test, scores, snakemake.params.heavy, snakemake.params.options
    )
    write_json(out.limits, limits)
    write_limit_tables(limits, out.csv, out.md, out.tex, out.html)
    paths = zip(out.workspaces, out.yields_csv, out.yields_md, out.yields_html, strict=True)
    write_limit_workspaces(limits, dict(zip(names, paths, strict=True)), "higgs_mu_")
