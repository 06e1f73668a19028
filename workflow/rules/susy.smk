# SUSY limits (SUSY-AI-like): pMSSM-19 scan shards -> recast label shards (spectrum, cross sections, pyhf CLs) ->
# dataset split -> one training rule per classifier -> evaluation (accuracy/confidence table, speed-up, maps).

from ml4hep.susy.classifiers import CLASSIFIERS as SUSY_MODELS
from ml4hep.susy.classifiers import hyper_parameters as susy_hyper_parameters

SUSY = config["susy"]
SUSY_SHARDS = list(range(SUSY["scan"]["shards"]))
SUSY_SPLITS = ("train", "val", "test")
SUSY_CLASSIFIERS = SUSY_MODELS.names()


SUSY_GRID = SUSY["efficiency_grid"]
# the toy CLs table of the small-background regions, an input of every job that runs the recast (none: asymptotic)
SUSY_TOYS = ["results/susy/toys.json"] if SUSY["recast"]["toys"]["enabled"] else []


rule susy_toys:
    input:
        code=script_code("susy_toys.py"),
    output:
        table="results/susy/toys.json",
    log:
        "results/logs/susy/toys.log",
    benchmark:
        "results/benchmarks/susy/toys.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        regions=SUSY["recast"]["signal_regions"],
        options=SUSY["recast"]["toys"],
        seed=derive_seed(config["seed"], "susy", "toys"),
    script:
        "../../scripts/susy_toys.py"


rule susy_efficiency_grid:
    input:
        code=script_code("susy_efficiency_grid.py"),
    output:
        grid="results/susy/efficiency_grid.csv",
        comparison="results/susy/efficiency_grid.json",
    log:
        "results/logs/susy/efficiency_grid.log",
    benchmark:
        "results/benchmarks/susy/efficiency_grid.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        options=SUSY_GRID,
        seed=derive_seed(config["seed"], "susy", "efficiency_grid"),
    script:
        "../../scripts/susy_efficiency_grid.py"


rule susy_efficiency_grid_plot:
    input:
        grid="results/susy/efficiency_grid.csv",
        code=script_code("susy_efficiency_grid_plot.py"),
    output:
        plot=report(
            "results/susy/plots/efficiency_grid.png",
            caption="../report/susy_efficiency_grid.rst",
            category="SUSY",
            labels={"result": "efficiency grid vs parametrisation", "type": "figure"},
        ),
        plot_pdf="results/susy/plots/efficiency_grid.pdf",
    log:
        "results/logs/susy/efficiency_grid_plot.log",
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/susy_efficiency_grid_plot.py"


rule susy_scan:
    input:
        code=script_code("susy_scan.py"),
    output:
        points="results/susy/scan/{shard}.root",
    log:
        "results/logs/susy/scan_{shard}.log",
    benchmark:
        "results/benchmarks/susy/scan_{shard}.tsv"
    wildcard_constraints:
        shard=r"\d+",
    conda:
        "../../envs/ml4hep.yaml"
    params:
        size=lambda wc: susy_shard_points(wc.shard),
        ranges=SUSY["scan"]["ranges"],
        seed=lambda wc: derive_seed(config["seed"], "susy", "scan", wc.shard),
        slha_dir=lambda wc: f"results/susy/slha/{wc.shard}" if SUSY["scan"]["write_slha"] else None,
    script:
        "../../scripts/susy_scan.py"


rule susy_label:
    input:
        points="results/susy/scan/{shard}.root",
        grid=susy_grid_for_recast(),
        toys=SUSY_TOYS,
        code=script_code("susy_label.py"),
    output:
        labels="results/susy/labels/{shard}.root",
        summary="results/susy/labels/{shard}.json",
    log:
        "results/logs/susy/label_{shard}.log",
    benchmark:
        "results/benchmarks/susy/label_{shard}.tsv"
    wildcard_constraints:
        shard=r"\d+",
    conda:
        "../../envs/ml4hep.yaml"
    params:
        recast=SUSY["recast"],
    script:
        "../../scripts/susy_label.py"


rule susy_dataset:
    input:
        labels=expand("results/susy/labels/{shard}.root", shard=SUSY_SHARDS),
        code=script_code("susy_dataset.py"),
    output:
        **susy_split_files(),
        summary="results/susy/dataset/summary.json",
    log:
        "results/logs/susy/dataset.log",
    benchmark:
        "results/benchmarks/susy/dataset.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        split=SUSY["split"],
        inputs=SUSY["inputs"],
        seed=derive_seed(config["seed"], "susy", "split"),
    script:
        "../../scripts/susy_dataset.py"


# Three benchmark points (excluded, borderline, allowed) and their recast models as HistFactory JSON workspaces.
rule susy_workspaces:
    input:
        labels=expand("results/susy/labels/{shard}.root", shard=SUSY_SHARDS),
        code=script_code("susy_workspaces.py"),
    output:
        workspaces=expand("results/susy/workspaces/{role}.json", role=("excluded", "borderline", "allowed")),
        csv="results/susy/workspaces/benchmarks.csv",
        md="results/susy/workspaces/benchmarks.md",
        html=report(
            "results/susy/workspaces/benchmarks.html",
            caption="../report/susy_benchmarks.rst",
            category="SUSY",
            labels={"result": "benchmark points of the recast", "type": "table"},
        ),
    log:
        "results/logs/susy/workspaces.log",
    benchmark:
        "results/benchmarks/susy/workspaces.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        recast=SUSY["recast"],
    script:
        "../../scripts/susy_workspaces.py"


rule susy_train_rf:
    input:
        **susy_split_files(),
        code=script_code("susy_train.py"),
    output:
        model="results/susy/models/{classifier}.npz",
        scores="results/susy/scores/{classifier}.root",
        info="results/susy/models/{classifier}_info.json",
    log:
        "results/logs/susy/train_{classifier}.log",
    benchmark:
        "results/benchmarks/susy/train_{classifier}.tsv"
    wildcard_constraints:
        classifier="rf|rf_parameters",
    conda:
        "../../envs/ml4hep.yaml"
    threads: 2
    params:
        hyper=lambda wc: susy_hyper_parameters(wc.classifier, SUSY),
        inputs=SUSY["inputs"],
        seed=lambda wc: derive_seed(config["seed"], "susy", wc.classifier),
        device=config["device"],
        checkpoint=lambda wc: (
            f"results/susy/checkpoints/{wc.classifier}.ckpt" if SUSY_MODELS.is_network(wc.classifier) else None
        ),
    script:
        "../../scripts/susy_train.py"


rule susy_train_bdt:
    input:
        **susy_split_files(),
        code=script_code("susy_train.py"),
    output:
        model="results/susy/models/{classifier}.json",
        scores="results/susy/scores/{classifier}.root",
        info="results/susy/models/{classifier}_info.json",
    log:
        "results/logs/susy/train_{classifier}.log",
    benchmark:
        "results/benchmarks/susy/train_{classifier}.tsv"
    wildcard_constraints:
        classifier="bdt",
    conda:
        "../../envs/ml4hep.yaml"
    threads: 2
    params:
        hyper=lambda wc: susy_hyper_parameters(wc.classifier, SUSY),
        inputs=SUSY["inputs"],
        seed=lambda wc: derive_seed(config["seed"], "susy", wc.classifier),
        device=config["device"],
        checkpoint=lambda wc: (
            f"results/susy/checkpoints/{wc.classifier}.ckpt" if SUSY_MODELS.is_network(wc.classifier) else None
        ),
    script:
        "../../scripts/susy_train.py"


rule susy_train_mlp:
    input:
        **susy_split_files(),
        code=script_code("susy_train.py"),
    output:
        model="results/susy/models/{classifier}.pt",
        scores="results/susy/scores/{classifier}.root",
        info="results/susy/models/{classifier}_info.json",
    log:
        "results/logs/susy/train_{classifier}.log",
    benchmark:
        "results/benchmarks/susy/train_{classifier}.tsv"
    wildcard_constraints:
        classifier="mlp",
    conda:
        "../../envs/ml4hep.yaml"
    threads: 2
    resources:
        gpu=gpu_request(),
    params:
        hyper=lambda wc: susy_hyper_parameters(wc.classifier, SUSY),
        inputs=SUSY["inputs"],
        seed=lambda wc: derive_seed(config["seed"], "susy", wc.classifier),
        device=config["device"],
        checkpoint=lambda wc: (
            f"results/susy/checkpoints/{wc.classifier}.ckpt" if SUSY_MODELS.is_network(wc.classifier) else None
        ),
    script:
        "../../scripts/susy_train.py"


rule susy_evaluate:
    input:
        test="results/susy/dataset/test.npz",
        summary="results/susy/dataset/summary.json",
        models=[susy_model_file(c) for c in SUSY_CLASSIFIERS],
        infos=expand("results/susy/models/{classifier}_info.json", classifier=SUSY_CLASSIFIERS),
        grid=susy_grid_for_recast(),
        toys=SUSY_TOYS,
        grid_summary=susy_grid_summary(),
        code=script_code("susy_evaluate.py"),
    output:
        metrics="results/susy/metrics.json",
        accuracy_csv="results/susy/accuracy.csv",
        accuracy_md="results/susy/accuracy.md",
        accuracy_tex="results/susy/accuracy.tex",
        fractions_csv="results/susy/exclusion.csv",
        fractions_md="results/susy/exclusion.md",
        fractions_tex="results/susy/exclusion.tex",
        maps=report(
            "results/susy/plots/maps.png",
            caption="../report/susy_maps.rst",
            category="SUSY",
            labels={"result": "exclusion maps", "type": "figure"},
        ),
        maps_pdf="results/susy/plots/maps.pdf",
        confidence=report(
            "results/susy/plots/confidence.png",
            caption="../report/susy_confidence.rst",
            category="SUSY",
            labels={"result": "accuracy vs confidence", "type": "figure"},
        ),
        confidence_pdf="results/susy/plots/confidence.pdf",
    log:
        "results/logs/susy/evaluate.log",
    benchmark:
        "results/benchmarks/susy/evaluate.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        classifiers=SUSY_CLASSIFIERS,
        inputs=SUSY["inputs"],
        recast=SUSY["recast"],
        options=SUSY["evaluate"],
    script:
        "../../scripts/susy_evaluate.py"
