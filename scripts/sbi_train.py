"""Rules sbi_train_baseline / sbi_train_network: train one likelihood-ratio estimator on the gold."""

from ml4hep.io import write_json
from ml4hep.models.base import job_context
from ml4hep.rules import rule_context
from ml4hep.sbi.estimators import SBI_ESTIMATORS
from ml4hep.sbi.splits import load_split

with rule_context(snakemake):
    p = snakemake.params
    inputs = {"train": snakemake.input.train, "val": snakemake.input.val}
    # the context of ml4hep.models.step.fit_context, without that module's imports (torch for the histogram)
    context = job_context(
        seed=p.seed, device=p.device, threads=snakemake.threads, hyper=p.hyper, inputs=inputs, checkpoint=p.checkpoint
    )
    model = SBI_ESTIMATORS.create(snakemake.wildcards.estimator, p.hyper)
    info = model.fit(load_split(inputs["train"]), load_split(inputs["val"]), context)
    model.save(snakemake.output.model)
    write_json(snakemake.output.info, {"model": model.name, "seed": context.seed, "hyper": p.hyper, **info})
