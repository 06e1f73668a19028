# Top tagging: features (constituents, images, substructure) -> one training rule per tagger -> evaluation.

from ml4hep.toptag.decorrelated import decorrelated_hyper
from ml4hep.toptag.taggers import TAGGERS, tagger_hyper
from ml4hep.toptag.trees import feature_tree_options

TOPTAG = config["toptag"]
TOPTAG_SPLITS = ("train", "val", "test")


TOPTAG_NETWORKS = TAGGERS.networks()


# Constituents, image and substructure of the jets of one sample shard (one job per shard, chunked).
rule toptag_shard_features:
    input:
        sample=lambda wc: sample_shards(wc.sample)[int(wc.shard)],
        code=script_code("toptag_shard_features.py"),
    output:
        "results/toptag/features/shards/{sample}/{shard}.root",
    log:
        "results/logs/toptag/features_{sample}_{shard}.log",
    benchmark:
        "results/benchmarks/toptag/features_{sample}_{shard}.tsv"
    wildcard_constraints:
        sample=names_regex(TOPTAG["samples"]),
        shard=r"\d+",
    conda:
        "../../envs/ml4hep.yaml"
    resources:
        mem_mb=2000,
    params:
        options={
            **{k: TOPTAG[k] for k in ("max_constituents", "rotate", "jet_r", "image")},
            **feature_tree_options(TOPTAG, derive_seed(config["seed"], "toptag", "trees")),
        },
        chunk_size=TOPTAG["chunk_size"],
    script:
        "../../scripts/toptag_shard_features.py"


# The train/val/test split files from the shards' features, shard by shard and chunk by chunk.
rule toptag_features:
    input:
        shards=lambda wc: [f for files in toptag_shard_feature_files().values() for f in files],
        code=script_code("toptag_features.py"),
    output:
        **toptag_feature_files(),
    log:
        "results/logs/toptag/features.log",
    benchmark:
        "results/benchmarks/toptag/features.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    resources:
        mem_mb=2000,
    params:
        shards=lambda wc: toptag_shard_feature_files(),
        options={k: TOPTAG[k] for k in ("split", "predefined_split")},
        seed=derive_seed(config["seed"], "toptag", "split"),
        chunk_size=TOPTAG["chunk_size"],
    script:
        "../../scripts/toptag_features.py"


rule toptag_train_baseline:
    input:
        **toptag_feature_files(),
        code=script_code("toptag_train.py", without=("ml4hep.toptag.models", "ml4hep.onnx_export")),
    output:
        model="results/toptag/models/{tagger}.json",
        scores="results/toptag/scores/{tagger}.root",
        info="results/toptag/models/{tagger}_info.json",
    log:
        "results/logs/toptag/train_{tagger}.log",
    benchmark:
        "results/benchmarks/toptag/train_{tagger}.tsv"
    wildcard_constraints:
        tagger=names_regex(TAGGERS.baselines()),
    conda:
        "../../envs/ml4hep.yaml"
    resources:
        mem_mb=2000,
    params:
        hyper=lambda wc: toptag_hyper(wc.tagger),
        seed=lambda wc: derive_seed(config["seed"], "toptag", wc.tagger),
        device=config["device"],
        checkpoint=None,
        samples=TOPTAG["samples"],
        chunk_size=TOPTAG["chunk_size"],
    script:
        "../../scripts/toptag_train.py"


rule toptag_train_network:
    input:
        **toptag_feature_files(),
        code=script_code("toptag_train.py"),
    output:
        model="results/toptag/models/{tagger}.pt",
        onnx="results/toptag/models/{tagger}.onnx",
        scores="results/toptag/scores/{tagger}.root",
        info="results/toptag/models/{tagger}_info.json",
    log:
        "results/logs/toptag/train_{tagger}.log",
    benchmark:
        "results/benchmarks/toptag/train_{tagger}.tsv"
    wildcard_constraints:
        tagger=names_regex(TOPTAG_NETWORKS),
    conda:
        "../../envs/ml4hep.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        gpu=gpu_request(),
    params:
        hyper=lambda wc: toptag_hyper(wc.tagger),
        seed=lambda wc: derive_seed(config["seed"], "toptag", wc.tagger),
        device=config["device"],
        # not an output: it survives a killed or failed job, so that the retry resumes from it
        checkpoint="results/toptag/checkpoints/{tagger}.ckpt",
        samples=TOPTAG["samples"],
        chunk_size=TOPTAG["chunk_size"],
    script:
        "../../scripts/toptag_train.py"


rule toptag_evaluate:
    input:
        test="results/toptag/features/test.root",
        val="results/toptag/features/val.root",
        scores=expand("results/toptag/scores/{tagger}.root", tagger=TOPTAG["taggers"]),
        infos=expand("results/toptag/models/{tagger}_info.json", tagger=TOPTAG["taggers"]),
        decorrelation="results/toptag/decorrelation.json",
        code=script_code("toptag_evaluate.py"),
    output:
        metrics="results/toptag/metrics.json",
        csv="results/toptag/taggers.csv",
        md="results/toptag/taggers.md",
        tex="results/toptag/taggers.tex",
        roc=report(
            "results/toptag/plots/roc.png",
            caption="../report/toptag_roc.rst",
            category="Top tagging",
            labels={"result": "ROC curves of the taggers", "type": "figure"},
        ),
        roc_pdf="results/toptag/plots/roc.pdf",
    log:
        "results/logs/toptag/evaluate.log",
    benchmark:
        "results/benchmarks/toptag/evaluate.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        taggers=TOPTAG["taggers"],
        bootstrap=TOPTAG["bootstrap"],
        seed=derive_seed(config["seed"], "toptag", "bootstrap"),
    script:
        "../../scripts/toptag_evaluate.py"


# Mass decorrelation: each decorrelated tagger trained at every strength of its list (one job per method, the
# models are small), then R50 and 1/JSD of them and of the plain taggers on the test split.
TOPTAG_DECORRELATION = TOPTAG["decorrelation"]


rule toptag_train_flatness_bdt:
    input:
        **toptag_feature_files(),
        code=script_code("toptag_decorrelation_train.py"),
    output:
        models=toptag_decorrelated_files("flatness_bdt", "models/flatness_bdt_{index}.json"),
        scores=toptag_decorrelated_files("flatness_bdt", "scores/flatness_bdt_{index}.root"),
        infos=toptag_decorrelated_files("flatness_bdt", "models/flatness_bdt_{index}_info.json"),
    log:
        "results/logs/toptag/train_flatness_bdt.log",
    benchmark:
        "results/benchmarks/toptag/train_flatness_bdt.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    resources:
        mem_mb=2000,
    params:
        method="flatness_bdt",
        hyper=toptag_decorrelated_hyper("flatness_bdt"),
        strengths=TOPTAG_DECORRELATION["flatness_bdt"]["strengths"],
        seed=derive_seed(config["seed"], "toptag", "flatness_bdt"),
        samples=TOPTAG["samples"],
    script:
        "../../scripts/toptag_decorrelation_train.py"


rule toptag_train_disco:
    input:
        **toptag_feature_files(),
        code=script_code("toptag_decorrelation_train.py"),
    output:
        models=toptag_decorrelated_files("disco", "models/disco_{index}.pt"),
        scores=toptag_decorrelated_files("disco", "scores/disco_{index}.root"),
        infos=toptag_decorrelated_files("disco", "models/disco_{index}_info.json"),
    log:
        "results/logs/toptag/train_disco.log",
    benchmark:
        "results/benchmarks/toptag/train_disco.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    resources:
        mem_mb=2000,
    params:
        method="disco",
        hyper=toptag_decorrelated_hyper("disco"),
        strengths=TOPTAG_DECORRELATION["disco"]["strengths"],
        seed=derive_seed(config["seed"], "toptag", "disco"),
        samples=TOPTAG["samples"],
    script:
        "../../scripts/toptag_decorrelation_train.py"


rule toptag_train_uboost:
    input:
        **toptag_feature_files(),
        code=script_code("toptag_decorrelation_train.py"),
    output:
        models=toptag_decorrelated_files("uboost", "models/uboost_{index}.json"),
        scores=toptag_decorrelated_files("uboost", "scores/uboost_{index}.root"),
        infos=toptag_decorrelated_files("uboost", "models/uboost_{index}_info.json"),
    log:
        "results/logs/toptag/train_uboost.log",
    benchmark:
        "results/benchmarks/toptag/train_uboost.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    resources:
        mem_mb=2000,
    params:
        method="uboost",
        hyper=toptag_decorrelated_hyper("uboost"),
        strengths=TOPTAG_DECORRELATION["uboost"]["strengths"],
        seed=derive_seed(config["seed"], "toptag", "uboost"),
        samples=TOPTAG["samples"],
    script:
        "../../scripts/toptag_decorrelation_train.py"


rule toptag_decorrelation:
    input:
        test="results/toptag/features/test.root",
        plain=expand("results/toptag/scores/{tagger}.root", tagger=TOPTAG["taggers"]),
        flatness_bdt=rules.toptag_train_flatness_bdt.output.scores,
        disco=rules.toptag_train_disco.output.scores,
        uboost=rules.toptag_train_uboost.output.scores,
        code=script_code("toptag_decorrelation.py"),
    output:
        json="results/toptag/decorrelation.json",
        csv="results/toptag/decorrelation.csv",
        md="results/toptag/decorrelation.md",
        png=report(
            "results/toptag/plots/sculpting.png",
            caption="../report/toptag_sculpting.rst",
            category="Top tagging",
            labels={"result": "sculpting vs rejection (mass decorrelation)", "type": "figure"},
        ),
        pdf="results/toptag/plots/sculpting.pdf",
    log:
        "results/logs/toptag/decorrelation.log",
    benchmark:
        "results/benchmarks/toptag/decorrelation.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        taggers=TOPTAG["taggers"],
        strengths={method: TOPTAG_DECORRELATION[method]["strengths"] for method in ("flatness_bdt", "uboost", "disco")},
        options={k: TOPTAG_DECORRELATION[k] for k in ("mass", "mass_bins", "random_draws", "bootstrap")},
        seed=derive_seed(config["seed"], "toptag", "sculpting"),
    script:
        "../../scripts/toptag_decorrelation.py"
