"""Rule susy_evaluate: accuracy/confidence table, classifier vs recast time, exclusion maps, metrics.json."""

import json

import torch

from ml4hep.plots.susy import plot_confidence, plot_maps
from ml4hep.rules import rule_context
from ml4hep.susy.evaluate import evaluate
from ml4hep.susy.toys import read_toys

with rule_context(snakemake):
    torch.set_num_threads(1)
    with open(snakemake.input.summary) as stream:
        summary = json.load(stream)
    grid, grid_summary = list(snakemake.input.grid), list(snakemake.input.grid_summary)
    comparison = {}
    if grid_summary:
        with open(grid_summary[0]) as stream:
            comparison = json.load(stream)["summary"]
    models = dict(zip(snakemake.params.classifiers, snakemake.input.models, strict=True))
    infos = dict(zip(snakemake.params.classifiers, snakemake.input.infos, strict=True))
    output = snakemake.output
    _, figures = evaluate(
        snakemake.input.test,
        models,
        infos,
        snakemake.params.inputs,
        snakemake.params.recast,
        snakemake.params.options,
        summary,
        dict(output),
        grid[0] if grid else None,
        comparison,
        read_toys(list(snakemake.input.toys)),
    )
    plot_maps(
        figures["test"],
        figures["predicted_excluded"],
        figures["map_classifier"],
        int(snakemake.params.options["map_bins"]),
        [output.maps, output.maps_pdf],
    )
    plot_confidence(figures["results"], figures["test"]["allowed"], [output.confidence, output.confidence_pdf])
