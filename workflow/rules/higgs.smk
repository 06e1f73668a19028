# Higgs H->tautau: event table (selection + HiggsML features + split) -> classifiers -> evaluation.

from ml4hep.higgs.classifiers import CLASSIFIERS as HIGGS_MODELS

HIGGS = config["higgs"]
HIGGSML = HIGGS["higgsml"]
# The real HiggsML data has no generator truth and no heavy Higgs: those rules run on generated samples only.
HIGGS_HEAVY = [] if HIGGSML else [f"higgs_heavyh{m}" for m in config["samples"]["higgs"]["heavy_higgs"]["masses_gev"]]
HIGGS_SPLITS = ("train", "val", "test")
HIGGS_CLASSIFIERS = ("cut", "bdt", "dnn") if HIGGSML else ("cut", "bdt", "dnn", "bdt_mreg")
HIGGS_LIMIT_CLASSIFIERS = ("cut", "bdt", "dnn")


# Lep-had selection and HiggsML features of the events of one sample shard (one job per shard).
rule higgs_shard_features:
    input:
        sample=lambda wc: sample_shards(wc.sample)[int(wc.shard)],
        code=script_code("higgs_shard_features.py"),
    output:
        "results/higgs/features/shards/{sample}/{shard}.npz",
    log:
        "results/logs/higgs/features_{sample}_{shard}.log",
    benchmark:
        "results/benchmarks/higgs/features_{sample}_{shard}.tsv"
    wildcard_constraints:
        sample=names_regex(higgs_roles()),
        shard=r"\d+",
    conda:
        "../../envs/ml4hep.yaml"
    params:
        role=lambda wc: higgs_roles()[wc.sample],
        jet_pt_min=HIGGS["jet_pt_min"],
    script:
        "../../scripts/higgs_shard_features.py"


# The train/val/test event tables from the shards' tables, split shard by shard by seed.
rule higgs_features:
    input:
        tables=lambda wc: [f for files in higgs_shard_tables().values() for f in files],
        code=script_code("higgs_features.py"),
    output:
        **higgs_feature_files(),
        summary="results/higgs/features/summary.json",
    log:
        "results/logs/higgs/features.log",
    benchmark:
        "results/benchmarks/higgs/features.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        tables=lambda wc: higgs_shard_tables(),
        options={k: HIGGS[k] for k in ("split", "chunk_size")},
        seed=derive_seed(config["seed"], "higgs", "split"),
    script:
        "../../scripts/higgs_features.py"


rule higgs_train_baseline:
    input:
        **higgs_feature_files(),
        regressed_mass=regressed_mass_input,
        code=script_code("higgs_train.py"),
    output:
        model="results/higgs/models/{classifier}.json",
        scores="results/higgs/scores/{classifier}.root",
        info="results/higgs/models/{classifier}_info.json",
    log:
        "results/logs/higgs/train_{classifier}.log",
    benchmark:
        "results/benchmarks/higgs/train_{classifier}.tsv"
    wildcard_constraints:
        classifier=names_regex(HIGGS_MODELS.baselines()),
    conda:
        "../../envs/ml4hep.yaml"
    threads: 2
    params:
        hyper=lambda wc: higgs_hyper(wc.classifier),
        heavy=HIGGS_HEAVY,
        seed=lambda wc: derive_seed(config["seed"], "higgs", wc.classifier),
        device=config["device"],
        checkpoint=lambda wc: (
            f"results/higgs/checkpoints/{wc.classifier}.ckpt" if HIGGS_MODELS.is_network(wc.classifier) else None
        ),
    script:
        "../../scripts/higgs_train.py"


rule higgs_train_dnn:
    input:
        **higgs_feature_files(),
        code=script_code("higgs_train.py"),
    output:
        model="results/higgs/models/{classifier}.pt",
        onnx="results/higgs/models/{classifier}.onnx",
        scores="results/higgs/scores/{classifier}.root",
        info="results/higgs/models/{classifier}_info.json",
    log:
        "results/logs/higgs/train_{classifier}.log",
    benchmark:
        "results/benchmarks/higgs/train_{classifier}.tsv"
    wildcard_constraints:
        classifier=names_regex(HIGGS_MODELS.networks()),
    conda:
        "../../envs/ml4hep.yaml"
    threads: 2
    resources:
        gpu=gpu_request(),
    params:
        hyper=lambda wc: higgs_hyper(wc.classifier),
        heavy=HIGGS_HEAVY,
        seed=lambda wc: derive_seed(config["seed"], "higgs", wc.classifier),
        device=config["device"],
        checkpoint=lambda wc: (
            f"results/higgs/checkpoints/{wc.classifier}.ckpt" if HIGGS_MODELS.is_network(wc.classifier) else None
        ),
    script:
        "../../scripts/higgs_train.py"


rule higgs_evaluate:
    input:
        val="results/higgs/features/val.root",
        test="results/higgs/features/test.root",
        scores=expand("results/higgs/scores/{classifier}.root", classifier=HIGGS_CLASSIFIERS),
        infos=expand("results/higgs/models/{classifier}_info.json", classifier=HIGGS_CLASSIFIERS),
        code=script_code("higgs_evaluate.py"),
    output:
        metrics="results/higgs/classifiers.json",
        csv="results/higgs/classifiers.csv",
        md="results/higgs/classifiers.md",
        tex="results/higgs/classifiers.tex",
        roc=report(
            "results/higgs/plots/roc.png",
            caption="../report/higgs_roc.rst",
            category="Higgs",
            labels={"result": "ROC curves of the classifiers", "type": "figure"},
        ),
        roc_pdf="results/higgs/plots/roc.pdf",
        ams=report(
            "results/higgs/plots/ams.png",
            caption="../report/higgs_ams.rst",
            category="Higgs",
            labels={"result": "AMS vs threshold", "type": "figure"},
        ),
        ams_pdf="results/higgs/plots/ams.pdf",
        scores=report(
            "results/higgs/plots/scores.png",
            caption="../report/higgs_scores.rst",
            category="Higgs",
            labels={"result": "score distributions", "type": "figure"},
        ),
        scores_pdf="results/higgs/plots/scores.pdf",
        black_box=report(
            "results/higgs/plots/black_box.png",
            caption="../report/higgs_black_box.rst",
            category="Higgs",
            labels={"result": "opening the black box", "type": "figure"},
        ),
        black_box_pdf="results/higgs/plots/black_box.pdf",
        importance=report(
            "results/higgs/plots/importance.png",
            caption="../report/higgs_importance.rst",
            category="Higgs",
            labels={"result": "feature importance", "type": "figure"},
        ),
        importance_pdf="results/higgs/plots/importance.pdf",
    log:
        "results/logs/higgs/evaluate.log",
    benchmark:
        "results/benchmarks/higgs/evaluate.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        classifiers=HIGGS_CLASSIFIERS,
        heavy=HIGGS_HEAVY,
        regularisation=HIGGS["ams_regularisation"],
        ams_selection=HIGGS["ams"],
        bootstrap=HIGGS["bootstrap"],
        seed=derive_seed(config["seed"], "higgs", "bootstrap"),
    script:
        "../../scripts/higgs_evaluate.py"


rule higgs_limits:
    input:
        val="results/higgs/features/val.root",
        test="results/higgs/features/test.root",
        scores=expand("results/higgs/scores/{classifier}.root", classifier=HIGGS_LIMIT_CLASSIFIERS),
        code=script_code("higgs_limits.py"),
    output:
        limits="results/higgs/limits.json",
        csv="results/higgs/limits.csv",
        md="results/higgs/limits.md",
        tex="results/higgs/limits.tex",
        html=report(
            "results/higgs/limits.html",
            caption="../report/higgs_limits.rst",
            category="Higgs",
            labels={"result": "expected μ limits", "type": "table"},
        ),
        workspaces=expand("results/higgs/workspaces/{classifier}.json", classifier=HIGGS_LIMIT_CLASSIFIERS),
        yields_csv=expand("results/higgs/workspaces/{classifier}_yields.csv", classifier=HIGGS_LIMIT_CLASSIFIERS),
        yields_md=expand("results/higgs/workspaces/{classifier}_yields.md", classifier=HIGGS_LIMIT_CLASSIFIERS),
        yields_html=expand("results/higgs/workspaces/{classifier}_yields.html", classifier=HIGGS_LIMIT_CLASSIFIERS),
    log:
        "results/logs/higgs/limits.log",
    benchmark:
        "results/benchmarks/higgs/limits.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        classifiers=HIGGS_LIMIT_CLASSIFIERS,
        heavy=HIGGS_HEAVY,
        options=HIGGS["limits"],
    script:
        "../../scripts/higgs_limits.py"


rule higgs_regression:
    input:
        **higgs_feature_files(),
        code=script_code("higgs_regression.py"),
    output:
        model="results/higgs/models/mass_regression.pt",
        onnx="results/higgs/models/mass_regression.onnx",
        predictions="results/higgs/regression/predictions.root",
        metrics="results/higgs/regression/metrics.json",
    log:
        "results/logs/higgs/regression.log",
    benchmark:
        "results/benchmarks/higgs/regression.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    threads: 2
    resources:
        gpu=gpu_request(),
    params:
        hyper=HIGGS["regression"],
        seed=derive_seed(config["seed"], "higgs", "regression"),
        device=config["device"],
        checkpoint="results/higgs/checkpoints/mass_regression.ckpt",
    script:
        "../../scripts/higgs_regression.py"


rule higgs_regression_plots:
    input:
        test="results/higgs/features/test.root",
        predictions="results/higgs/regression/predictions.root",
        metrics="results/higgs/regression/metrics.json",
        code=script_code("higgs_regression_plots.py"),
    output:
        csv="results/higgs/regression/resolution.csv",
        md="results/higgs/regression/resolution.md",
        tex="results/higgs/regression/resolution.tex",
        plot=report(
            "results/higgs/plots/mass_regression.png",
            caption="../report/higgs_regression.rst",
            category="Higgs",
            labels={"result": "di-τ mass regression", "type": "figure"},
        ),
        plot_pdf="results/higgs/plots/mass_regression.pdf",
    log:
        "results/logs/higgs/regression_plots.log",
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/higgs_regression_plots.py"


rule higgs_metrics:
    input:
        **higgs_metrics_inputs(),
        code=script_code("higgs_metrics.py"),
    output:
        "results/higgs/metrics.json",
    log:
        "results/logs/higgs/metrics.log",
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/higgs_metrics.py"


rule higgs_parameterised:
    input:
        **higgs_feature_files(),
        code=script_code("higgs_parameterised.py"),
    output:
        model="results/higgs/models/parameterised/parameterised.pt",
        metrics="results/higgs/parameterised/metrics.json",
    log:
        "results/logs/higgs/parameterised.log",
    benchmark:
        "results/benchmarks/higgs/parameterised.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    threads: 1
    resources:
        gpu=gpu_request(),
    params:
        heavy=heavy_processes(),
        backgrounds=HIGGS["backgrounds"],
        hyper=HIGGS["parameterised"],
        seed=derive_seed(config["seed"], "higgs", "parameterised"),
        device=config["device"],
        checkpoint="results/higgs/checkpoints/parameterised",
    script:
        "../../scripts/higgs_parameterised.py"


rule higgs_parameterised_plots:
    input:
        metrics="results/higgs/parameterised/metrics.json",
        code=script_code("higgs_parameterised_plots.py"),
    output:
        csv="results/higgs/parameterised/auc.csv",
        md="results/higgs/parameterised/auc.md",
        tex="results/higgs/parameterised/auc.tex",
        curve="results/higgs/parameterised/auc_vs_mass.csv",
        plot=report(
            "results/higgs/plots/auc_vs_mass.png",
            caption="../report/higgs_parameterised.rst",
            category="Higgs",
            labels={"result": "parameterised network: AUC vs mass", "type": "figure"},
        ),
        plot_pdf="results/higgs/plots/auc_vs_mass.pdf",
    log:
        "results/logs/higgs/parameterised_plots.log",
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/higgs_parameterised_plots.py"


rule higgs_heavy_limits:
    input:
        val="results/higgs/features/val.root",
        test="results/higgs/features/test.root",
        model="results/higgs/models/parameterised/parameterised.pt",
        samples="results/samples/summary.csv",
        code=script_code("higgs_heavy_limits.py"),
    output:
        limits="results/higgs/heavy_limits.json",
        csv="results/higgs/heavy_limits.csv",
        md="results/higgs/heavy_limits.md",
        tex="results/higgs/heavy_limits.tex",
        html=report(
            "results/higgs/heavy_limits.html",
            caption="../report/higgs_heavy_limits_table.rst",
            category="Higgs",
            labels={"result": "expected σ×B limits vs mass", "type": "table"},
        ),
        workspaces=[f"results/higgs/workspaces/heavy_m{m:g}.json" for _, m in heavy_processes()],
        yields_csv=[f"results/higgs/workspaces/heavy_m{m:g}_yields.csv" for _, m in heavy_processes()],
        yields_md=[f"results/higgs/workspaces/heavy_m{m:g}_yields.md" for _, m in heavy_processes()],
        yields_html=[f"results/higgs/workspaces/heavy_m{m:g}_yields.html" for _, m in heavy_processes()],
    log:
        "results/logs/higgs/heavy_limits.log",
    benchmark:
        "results/benchmarks/higgs/heavy_limits.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        heavy=heavy_processes(),
        backgrounds=HIGGS["backgrounds"],
        left_out_mass=HIGGS["parameterised"]["left_out_mass"],
        options=HIGGS["limits"],
    script:
        "../../scripts/higgs_heavy_limits.py"


rule higgs_heavy_limits_plot:
    input:
        limits="results/higgs/heavy_limits.json",
        code=script_code("higgs_heavy_limits_plot.py"),
    output:
        plot=report(
            "results/higgs/plots/heavy_limits.png",
            caption="../report/higgs_heavy_limits.rst",
            category="Higgs",
            labels={"result": "heavy-Higgs σ×B limits (Brazil plot)", "type": "figure"},
        ),
        plot_pdf="results/higgs/plots/heavy_limits.pdf",
    log:
        "results/logs/higgs/heavy_limits_plot.log",
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/higgs_heavy_limits_plot.py"
