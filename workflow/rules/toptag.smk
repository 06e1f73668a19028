# Top tagging: features (constituents, images, substructure) -> one training rule per tagger -> evaluation.

TOPTAG = config["toptag"]
TOPTAG_SPLITS = ("train", "val", "test")
if TOPTAG["predefined_split"]:
    _unknown = sorted({s for names in TOPTAG["predefined_split"].values() for s in names} - set(TOPTAG["samples"]))
    if _unknown:
        raise ConfigError(f"config key 'toptag.predefined_split' names samples not in 'toptag.samples': {_unknown}")


def toptag_feature_files():
    return {split: f"results/toptag/features/{split}.npz" for split in TOPTAG_SPLITS}


def toptag_model_file(tagger):
    return f"results/toptag/models/{tagger}.{'json' if tagger in ('cut', 'bdt') else 'pt'}"


rule toptag_features:
    output:
        **toptag_feature_files(),
    input:
        samples=lambda wc: [f for sample in TOPTAG["samples"] for f in sample_shards(sample)],
        code=script_code("toptag_features.py"),
    params:
        samples=lambda wc: {sample: sample_shards(sample) for sample in TOPTAG["samples"]},
        options={k: TOPTAG[k] for k in ("split", "predefined_split", "max_constituents", "rotate", "jet_r", "image")},
        seed=derive_seed(config["seed"], "toptag", "split"),
    log:
        "results/logs/toptag/features.log",
    benchmark:
        "results/benchmarks/toptag/features.tsv"
    resources:
        mem_mb=4000,
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/toptag_features.py"


rule toptag_train_baseline:
    output:
        model="results/toptag/models/{tagger}.json",
        scores="results/toptag/scores/{tagger}.npz",
        info="results/toptag/models/{tagger}_info.json",
    input:
        **toptag_feature_files(),
        code=script_code("toptag_train.py", without=("ml4hep.toptag.models", "ml4hep.onnx_export")),
    params:
        options=lambda wc: {"bdt": TOPTAG["bdt"]} if wc.tagger == "bdt" else {},
        seed=lambda wc: derive_seed(config["seed"], "toptag", wc.tagger),
        device=config["device"],
    wildcard_constraints:
        tagger="cut|bdt",
    log:
        "results/logs/toptag/train_{tagger}.log",
    benchmark:
        "results/benchmarks/toptag/train_{tagger}.tsv"
    resources:
        mem_mb=2000,
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/toptag_train.py"


rule toptag_train_network:
    output:
        model="results/toptag/models/{tagger}.pt",
        onnx="results/toptag/models/{tagger}.onnx",
        scores="results/toptag/scores/{tagger}.npz",
        info="results/toptag/models/{tagger}_info.json",
    input:
        **toptag_feature_files(),
        code=script_code("toptag_train.py"),
    params:
        options=lambda wc: {"training": TOPTAG["training"], "models": {wc.tagger: toptag_hyper(wc.tagger)}},
        seed=lambda wc: derive_seed(config["seed"], "toptag", wc.tagger),
        device=config["device"],
    wildcard_constraints:
        tagger="cnn|pfn|efn|particlenet",
    threads: 2
    log:
        "results/logs/toptag/train_{tagger}.log",
    benchmark:
        "results/benchmarks/toptag/train_{tagger}.tsv"
    resources:
        mem_mb=4000,
        gpu=gpu_request(),
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/toptag_train.py"


def toptag_hyper(tagger):
    """Model hyper-parameters; the CNN gets the image size from the image settings."""
    hyper = dict(TOPTAG["models"][tagger])
    if tagger == "cnn":
        hyper["pixels"] = TOPTAG["image"]["pixels"]
    return hyper


rule toptag_evaluate:
    output:
        metrics="results/toptag/metrics.json",
        csv="results/toptag/taggers.csv",
        md="results/toptag/taggers.md",
        tex="results/toptag/taggers.tex",
        roc=report("results/toptag/plots/roc.png", caption="../report/toptag_roc.rst", category="Top tagging"),
        roc_pdf="results/toptag/plots/roc.pdf",
    input:
        test="results/toptag/features/test.npz",
        val="results/toptag/features/val.npz",
        scores=expand("results/toptag/scores/{tagger}.npz", tagger=TOPTAG["taggers"]),
        infos=expand("results/toptag/models/{tagger}_info.json", tagger=TOPTAG["taggers"]),
        code=script_code("toptag_evaluate.py"),
    params:
        taggers=TOPTAG["taggers"],
        bootstrap=TOPTAG["bootstrap"],
        seed=derive_seed(config["seed"], "toptag", "bootstrap"),
    log:
        "results/logs/toptag/evaluate.log",
    benchmark:
        "results/benchmarks/toptag/evaluate.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/toptag_evaluate.py"
