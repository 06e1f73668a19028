# Samples: generated with Pythia8 + FastJet (one job per process and shard), or imported from user files.


rule generate_sample:
    input:
        code=lambda wc: generation_code(GENERATED[wc.process].sample_set),
    output:
        "results/samples/{process}/{shard}.root",
    log:
        "results/logs/generate_sample/{process}/{shard}.log",
    benchmark:
        "results/benchmarks/generate_sample/{process}/{shard}.tsv"
    wildcard_constraints:
        process=names_regex(GENERATED),
        shard=r"\d+",
    conda:
        "../../envs/ml4hep.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        spec=lambda wc: GENERATED[wc.process].to_dict(),
        config=lambda wc: shard_config(config, GENERATED[wc.process].sample_set),
    script:
        "../../scripts/generate_sample.py"


if IMPORTED:

    rule import_sample:
        input:
            source=lambda wc: local_source(wc.process, int(wc.shard)),
            code=script_code("import_sample.py"),
        output:
            "results/samples/{process}/{shard}.root",
        log:
            "results/logs/import_sample/{process}/{shard}.log",
        benchmark:
            "results/benchmarks/import_sample/{process}/{shard}.tsv"
        wildcard_constraints:
            process=names_regex(IMPORTED),
            shard=r"\d+",
        conda:
            "../../envs/ml4hep.yaml"
        resources:
            mem_mb=4000,
            runtime=60,
        params:
            entry=lambda wc: IMPORTED[wc.process],
            source=lambda wc: IMPORTED[wc.process]["files"][int(wc.shard)],
            max_constituents=config["samples"]["toptag"]["max_constituents"],
        script:
            "../../scripts/import_sample.py"


rule sample_summary:
    input:
        samples=all_sample_shards(),
        code=script_code("summarize_samples.py"),
    output:
        csv="results/samples/summary.csv",
        md="results/samples/summary.md",
    log:
        "results/logs/sample_summary.log",
    conda:
        "../../envs/ml4hep.yaml"
    params:
        samples=lambda wc: {process: sample_shards(process) for process in sorted({*GENERATED, *IMPORTED})},
    script:
        "../../scripts/summarize_samples.py"


rule sample_plots:
    input:
        samples=all_sample_shards(),
        code=script_code("sample_plots.py"),
    output:
        plot=report(
            "results/samples/plots/sample_overview.png",
            caption="../report/samples.rst",
            category="Samples",
            labels={"result": "sample overview", "type": "figure"},
        ),
        pdf="results/samples/plots/sample_overview.pdf",
    log:
        "results/logs/sample_plots.log",
    conda:
        "../../envs/ml4hep.yaml"
    params:
        samples=lambda wc: {process: sample_shards(process) for process in sorted({*GENERATED, *IMPORTED})},
    script:
        "../../scripts/sample_plots.py"
