# Simulation-based inference with joint likelihood ratios: generation shards (nominal with the shower weights,
# direct at each θ1, and a separate reference sample with weights) -> dataset (splits with the gold, weight
# validation) -> one training rule per estimator, and the binned truth reference -> inference on the direct
# samples -> render (intervals table, figures, metrics).

from ml4hep.sbi.estimators import SBI_ESTIMATORS, estimator_hyper

SBI = config["sbi"]
SBI_DIRECT = {f"theta{theta:g}": float(theta) for theta in SBI["direct"]["thetas"]}
SBI_NETWORKS = SBI_ESTIMATORS.networks()


rule sbi_generate:
    input:
        code=script_code("sbi_generate.py"),
    output:
        "results/sbi/samples/{sample}/{shard}.root",
    log:
        "results/logs/sbi/generate_{sample}_{shard}.log",
    benchmark:
        "results/benchmarks/sbi/generate_{sample}_{shard}.tsv"
    wildcard_constraints:
        sample=names_regex(["nominal", "reference", *SBI_DIRECT]),
        shard=r"\d+",
    conda:
        "../../envs/ml4hep.yaml"
    resources:
        mem_mb=2000,
    params:
        events=lambda wc: sbi_shard_events(wc.sample, wc.shard),
        seed=lambda wc: derive_seed(config["seed"], "sbi", wc.sample, wc.shard),
        theta=lambda wc: SBI_DIRECT.get(wc.sample),
        settings={
            "energy_gev": SBI["energy_gev"],
            "thetas": SBI["variations"],
            "batch_size": SBI["batch_size"],
            "shower_pt_min": SBI["shower_pt_min"],
        },
    script:
        "../../scripts/sbi_generate.py"


# The nominal events' train/val/test splits with their gold, the direct samples, and the weight validation.
rule sbi_dataset:
    input:
        nominal=sbi_shards("nominal"),
        direct=[path for sample in SBI_DIRECT for path in sbi_shards(sample)],
        code=script_code("sbi_dataset.py"),
    output:
        train="results/sbi/dataset/train.npz",
        val="results/sbi/dataset/val.npz",
        test="results/sbi/dataset/test.npz",
        direct="results/sbi/dataset/direct.npz",
        validation="results/sbi/validation.json",
    log:
        "results/logs/sbi/dataset.log",
    benchmark:
        "results/benchmarks/sbi/dataset.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        direct={theta: sbi_shards(sample) for sample, theta in SBI_DIRECT.items()},
        split=[SBI["split"]["train"], SBI["split"]["val"]],
        degree=SBI["polynomial_degree"],
        bins=SBI["validation_bins"],
        seed=derive_seed(config["seed"], "sbi", "split"),
    script:
        "../../scripts/sbi_dataset.py"


# The truth curve's reference: the fine-binned likelihood ratio of a few observables from the reference sample
# (its own seeds: no estimator trains on it), on the inference grid.
rule sbi_reference:
    input:
        reference=sbi_shards("reference"),
        code=script_code("sbi_reference.py"),
    output:
        model="results/sbi/models/truth.npz",
        info="results/sbi/reference.json",
    log:
        "results/logs/sbi/reference.log",
    benchmark:
        "results/benchmarks/sbi/reference.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        degree=SBI["polynomial_degree"],
        observables=SBI["reference"]["observables"],
        bins=SBI["reference"]["bins"],
        variations=SBI["variations"],
        grid_points=SBI["inference"]["grid_points"],
    script:
        "../../scripts/sbi_reference.py"


rule sbi_train_baseline:
    input:
        train="results/sbi/dataset/train.npz",
        val="results/sbi/dataset/val.npz",
        code=script_code("sbi_train.py", without=("ml4hep.sbi.networks", "ml4hep.training")),
    output:
        model="results/sbi/models/{estimator}.npz",
        info="results/sbi/models/{estimator}_info.json",
    log:
        "results/logs/sbi/train_{estimator}.log",
    benchmark:
        "results/benchmarks/sbi/train_{estimator}.tsv"
    wildcard_constraints:
        estimator=names_regex(SBI_ESTIMATORS.baselines()),
    conda:
        "../../envs/ml4hep.yaml"
    params:
        hyper=lambda wc: estimator_hyper(config, wc.estimator),
        seed=lambda wc: derive_seed(config["seed"], "sbi", wc.estimator),
        device="cpu",
        checkpoint=None,
    script:
        "../../scripts/sbi_train.py"


rule sbi_train_network:
    input:
        train="results/sbi/dataset/train.npz",
        val="results/sbi/dataset/val.npz",
        code=script_code("sbi_train.py"),
    output:
        model="results/sbi/models/{estimator}.pt",
        info="results/sbi/models/{estimator}_info.json",
    log:
        "results/logs/sbi/train_{estimator}.log",
    benchmark:
        "results/benchmarks/sbi/train_{estimator}.tsv"
    wildcard_constraints:
        estimator=names_regex(SBI_NETWORKS),
    conda:
        "../../envs/ml4hep.yaml"
    resources:
        mem_mb=2000,
        gpu=gpu_request(),
    params:
        hyper=lambda wc: estimator_hyper(config, wc.estimator),
        seed=lambda wc: derive_seed(config["seed"], "sbi", wc.estimator),
        device=config["device"],
        # not an output: it survives a killed or failed job, so that the retry resumes from it
        checkpoint="results/sbi/checkpoints/{estimator}.ckpt",
    script:
        "../../scripts/sbi_train.py"


# −2 ln r curves, intervals and coverage of every estimator on the direct samples (pseudo-data at θ_true).
rule sbi_inference:
    input:
        models=[sbi_model_file(estimator) for estimator in SBI["estimators"]],
        truth="results/sbi/models/truth.npz",
        direct="results/sbi/dataset/direct.npz",
        code=script_code("sbi_inference.py"),
    output:
        "results/sbi/inference.json",
    log:
        "results/logs/sbi/inference.log",
    benchmark:
        "results/benchmarks/sbi/inference.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        estimators=SBI["estimators"],
        thetas_true=list(SBI_DIRECT.values()),
        variations=SBI["variations"],
        options=SBI["inference"],
        seed=derive_seed(config["seed"], "sbi", "pseudo_experiments"),
    script:
        "../../scripts/sbi_inference.py"


rule sbi_render:
    input:
        inference="results/sbi/inference.json",
        validation="results/sbi/validation.json",
        reference="results/sbi/reference.json",
        code=script_code("sbi_render.py"),
    output:
        metrics="results/sbi/metrics.json",
        csv=report(
            "results/sbi/intervals.csv",
            caption="../report/sbi_intervals.rst",
            category="Simulation-based inference",
            labels={"result": "intervals on θ per estimator (CSV download)", "type": "table"},
        ),
        md="results/sbi/intervals.md",
        html=report(
            "results/sbi/intervals.html",
            caption="../report/sbi_intervals.rst",
            category="Simulation-based inference",
            labels={"result": "intervals on θ per estimator", "type": "table"},
        ),
        llr=report(
            "results/sbi/plots/llr.png",
            caption="../report/sbi_llr.rst",
            category="Simulation-based inference",
            labels={"result": "expected -2 ln r and the value of gold", "type": "figure"},
        ),
        llr_pdf="results/sbi/plots/llr.pdf",
        validation=report(
            "results/sbi/plots/validation.png",
            caption="../report/sbi_validation.rst",
            category="Simulation-based inference",
            labels={"result": "shower weights against direct samples", "type": "figure"},
        ),
        validation_pdf="results/sbi/plots/validation.pdf",
    log:
        "results/logs/sbi/render.log",
    benchmark:
        "results/benchmarks/sbi/render.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/sbi_render.py"
