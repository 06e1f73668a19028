"""Rule higgs_heavy_limits_plot: the Brazil plot of the heavy-Higgs limits from heavy_limits.json."""

import json

from ml4hep.plots.stats import brazil_plot
from ml4hep.rules import rule_context

with rule_context(snakemake):
    with open(snakemake.input.limits) as stream:
        limits = json.load(stream)
    brazil_plot(
        [e["mass"] for e in limits.values()],
        [{"band": e["xsec_band_pb"]} for e in limits.values()],
        [snakemake.output.plot, snakemake.output.plot_pdf],
        ylabel=r"95% CL limit on $\sigma \times B(H \to \tau\tau)$ [pb]",
    )
