"""Rule sbi_dataset: the nominal events' splits with their gold, the direct samples, and the weight validation."""

from ml4hep.io import write_json
from ml4hep.rules import rule_context
from ml4hep.sbi.dataset import nominal_splits, read_shards, validate_weights
from ml4hep.sbi.splits import save_split

with rule_context(snakemake) as log:
    p = snakemake.params
    nominal = read_shards(snakemake.input.nominal, weights=True)
    direct = {theta: read_shards(files, weights=False)["X"] for theta, files in p.direct.items()}
    splits, quality = nominal_splits(nominal, p.split, p.degree, p.seed)
    for name, split in splits.items():
        save_split(snakemake.output[name], split)
    save_split(snakemake.output.direct, {f"X_{theta:g}": x for theta, x in direct.items()})
    validation = validate_weights(nominal, direct, p.degree, p.bins)
    write_json(snakemake.output.validation, {**validation, "gold": quality})
    log.info("gold: %s; validation chi2/ndf %.2f", quality, validation["chi2_ndf"])
