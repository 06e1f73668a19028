"""Rule higgs_heavy_limits: expected limits on sigma x BR(H -> tautau) vs mass (Brazil plot)."""

import csv
import json

from ml4hep.higgs.limits import heavy_mass_limits
from ml4hep.rules import rule_context
from ml4hep.stats import brazil_plot

with rule_context(snakemake):
    with open(snakemake.input.samples) as stream:
        sigma_pb = {row["sample"]: float(row["sigma_pb"]) for row in csv.DictReader(stream)}
    heavy = [tuple(h) for h in snakemake.params.heavy]
    limits = heavy_mass_limits(snakemake.input.test, snakemake.input.model, heavy, snakemake.params.backgrounds,
                               sigma_pb, snakemake.params.left_out_mass, snakemake.params.options)
    with open(snakemake.output.limits, "w") as stream:
        json.dump(limits, stream, indent=2)
    rows = ["| m_H [GeV] | σ×BR generated [pb] | expected limit on σ×BR [pb] | −1σ / +1σ | expected μ limit |",
            "|---|---|---|---|---|"]
    for entry in limits.values():
        band = entry["xsec_band_pb"]
        name = f"{entry['mass']:g}" + (" (left out of training)" if entry["left_out"] else "")
        rows.append(f"| {name} | {entry['sigma_pb']:.3g} | {band[2]:.3g} | {band[1]:.3g} / {band[3]:.3g} | "
                    f"{entry['mu_expected']:.3g} |")
    with open(snakemake.output.md, "w") as stream:
        stream.write("\n".join(rows) + "\n")
    brazil_plot([e["mass"] for e in limits.values()], [{"band": e["xsec_band_pb"]} for e in limits.values()],
                [snakemake.output.plot, snakemake.output.plot_pdf],
                ylabel=r"95% CL limit on $\sigma \times B(H \to \tau\tau)$ [pb]")
