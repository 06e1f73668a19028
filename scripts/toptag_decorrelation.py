"""Rule toptag_decorrelation: R50 and 1/JSD of the plain and decorrelated taggers, their table and the plot."""

from ml4hep.io import write_json
from ml4hep.plots.toptag import plot_sculpting
from ml4hep.rules import rule_context
from ml4hep.toptag.decorrelation import decorrelation_from_files, write_decorrelation_tables

with rule_context(snakemake):
    params = snakemake.params
    scans = {
        method: list(zip(strengths, snakemake.input[method], strict=True))
        for method, strengths in params.strengths.items()
    }
    plain = dict(zip(params.taggers, snakemake.input.plain, strict=True))
    result = decorrelation_from_files(snakemake.input.test, plain, scans, params.options, params.seed)
    write_json(snakemake.output.json, result)
    write_decorrelation_tables(result, snakemake.output.csv, snakemake.output.md)
    plot_sculpting(result, [snakemake.output.png, snakemake.output.pdf])
