# Combine: one summary of every task, one table of all limits, an overview figure, and the run's provenance.

TASKS = config["tasks"]
# The plot that stands for each task in the summary and the overview figure.
KEY_PLOTS = {
    "higgs": "results/higgs/plots/ams.png",
    "toptag": "results/toptag/plots/roc.png",
    "pdf": "results/pdf/plots/band_g.png",
    "susy": "results/susy/plots/maps.png",
    "susy_active": "results/susy_active/plots/learning_curve.png",
    "sbi": "results/sbi/plots/llr.png",
}
# The training jobs' info files (device, seed) that provenance.json collects.
TRAINING_INFOS = {
    "higgs": lambda: expand("results/higgs/models/{classifier}_info.json", classifier=HIGGS_CLASSIFIERS),
    "toptag": lambda: expand("results/toptag/models/{tagger}_info.json", tagger=TOPTAG["taggers"]),
    "pdf": lambda: expand("results/pdf/replicas/fit{fit}/replica{replica}.npz", fit=PDF_FITS, replica=PDF_REPLICAS),
    "susy": lambda: expand("results/susy/models/{classifier}_info.json", classifier=SUSY_CLASSIFIERS),
    "sbi": lambda: expand("results/sbi/models/{estimator}_info.json", estimator=SBI["estimators"]),
}
# The HEPData record's table files of the configured tasks (the names of ml4hep.hepdata.TABLE_FILES).
HEPDATA_TABLES = [
    *(["higgs_mu_limits.yaml"] if "higgs" in TASKS else []),
    *(["heavy_higgs_limits.yaml"] if "higgs" in TASKS and HIGGS_HEAVY else []),
    *(["top_tagging_performance.yaml"] if "toptag" in TASKS else []),
]
HEPDATA_OUTPUTS = (
    {
        "hepdata_submission": "results/hepdata/submission.yaml",
        "hepdata_archive": "results/hepdata.tar.gz",
        "hepdata_tables": [f"results/hepdata/{table}" for table in HEPDATA_TABLES],
    }
    if HEPDATA_TABLES
    else {}
)
TASK_TARGETS = {
    "higgs": higgs_targets,
    "toptag": lambda: ["results/toptag/metrics.json"],
    "pdf": lambda: ["results/pdf/metrics.json", *PDF_LHAPDF_SETS.values()],
    "susy": susy_targets,
    "susy_active": lambda: ["results/susy_active/metrics.json"],
    "sbi": lambda: ["results/sbi/metrics.json"],
}


rule combine:
    input:
        metrics=[f"results/{task}/metrics.json" for task in summary_tasks()],
        plots=[KEY_PLOTS[task] for task in summary_tasks() if task in KEY_PLOTS],
        susy_exclusion=["results/susy/exclusion.csv"] if "susy" in TASKS else [],
        code=script_code("combine.py"),
    output:
        **HEPDATA_OUTPUTS,
        md="results/summary/summary.md",
        tex="results/summary/summary.tex",
        limits_csv=report(
            "results/summary/limits.csv",
            caption="../report/summary_limits.rst",
            category="Summary",
            labels={"result": "limits table (CSV download)", "type": "table"},
        ),
        limits_md="results/summary/limits.md",
        limits_tex="results/summary/limits.tex",
        limits_html=report(
            "results/summary/limits.html",
            caption="../report/summary_limits.rst",
            category="Summary",
            labels={"result": "all limits", "type": "table"},
        ),
        overview=report(
            "results/summary/overview.png",
            caption="../report/summary_overview.rst",
            category="Summary",
            labels={"result": "overview of the tasks", "type": "figure"},
        ),
        overview_pdf="results/summary/overview.pdf",
    log:
        "results/logs/combine/summary.log",
    benchmark:
        "results/benchmarks/combine/summary.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        tasks=summary_tasks(),
        plot_tasks=[task for task in summary_tasks() if task in KEY_PLOTS],
        hepdata_tables=HEPDATA_TABLES,
    script:
        "../../scripts/combine.py"


rule provenance:
    input:
        summary="results/summary/summary.md",
        infos=[path for task in summary_tasks() if task in TRAINING_INFOS for path in TRAINING_INFOS[task]()],
        code=script_code("provenance.py"),
    output:
        "results/provenance.json",
        config_page=report(
            "results/report/config.html",
            caption="../report/config.rst",
            category="Configuration and provenance",
            labels={"result": "resolved config", "type": "record"},
        ),
        page=report(
            "results/report/provenance.html",
            caption="../report/provenance.rst",
            category="Configuration and provenance",
            labels={"result": "provenance", "type": "record"},
        ),
    log:
        "results/logs/combine/provenance.log",
    conda:
        "../../envs/ml4hep.yaml"
    params:
        config=config,
        workflow=os.path.relpath(workflow.basedir),  # relative: a moved project keeps its params
    script:
        "../../scripts/provenance.py"
