"""Rule sbi_inference: expected −2 ln r curves, intervals and coverage of every estimator on the direct samples."""

from ml4hep.io import write_json
from ml4hep.rules import rule_context
from ml4hep.sbi.estimators import SBI_ESTIMATORS
from ml4hep.sbi.splits import load_split
from ml4hep.sbi.summary import run_inference
from ml4hep.sbi.truth import BinnedTruth

with rule_context(snakemake):
    p = snakemake.params
    # the truth reference first: the curve that every estimator's is compared with
    models = {"truth": BinnedTruth.load(snakemake.input.truth)}
    models.update(
        {name: SBI_ESTIMATORS.load(name, path) for name, path in zip(p.estimators, snakemake.input.models, strict=True)}
    )
    direct_file = load_split(snakemake.input.direct)
    direct = {theta: direct_file[f"X_{theta:g}"] for theta in p.thetas_true}
    write_json(snakemake.output[0], run_inference(models, direct, p.variations, p.options, p.seed))
