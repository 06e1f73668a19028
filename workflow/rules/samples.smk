# Samples: generated with Pythia8 + FastJet (one job per process and shard), or imported from user files.


rule generate_sample:
    output:
        "results/samples/{process}/{shard}.root",
    input:
        code=lambda wc: generation_code(GENERATED[wc.process].sample_set),
    params:
        spec=lambda wc: GENERATED[wc.process].to_dict(),
        config=lambda wc: shard_config(config, GENERATED[wc.process].sample_set),
    wildcard_constraints:
        process=names_regex(GENERATED),
        shard=r"\d+",
    log:
        "results/logs/generate_sample/{process}/{shard}.log",
    benchmark:
        "results/benchmarks/generate_sample/{process}/{shard}.tsv"
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/generate_sample.py"


if IMPORTED:

    rule import_sample:
        output:
            "results/samples/{process}/{shard}.root",
        input:
            source=lambda wc: local_source(wc.process, int(wc.shard)),
            code=script_code("import_sample.py"),
        params:
            entry=lambda wc: IMPORTED[wc.process],
            source=lambda wc: IMPORTED[wc.process]["files"][int(wc.shard)],
            max_constituents=config["samples"]["toptag"]["max_constituents"],
        wildcard_constraints:
            process=names_regex(IMPORTED),
            shard=r"\d+",
        log:
            "results/logs/import_sample/{process}/{shard}.log",
        benchmark:
            "results/benchmarks/import_sample/{process}/{shard}.tsv"
        resources:
            mem_mb=4000,
            runtime=60,
        conda:
            "../../envs/ml4hep.yaml"
        script:
            "../../scripts/import_sample.py"


def local_source(process, shard):
    """The user's file as a rule input when it is local (a missing file then stops the run at once)."""
    from ml4hep.io import is_remote

    source = IMPORTED[process]["files"][shard]
    return [] if is_remote(source) else [source]


rule sample_summary:
    output:
        csv="results/samples/summary.csv",
        md="results/samples/summary.md",
    input:
        samples=all_sample_shards(),
        code=script_code("summarize_samples.py"),
    params:
        samples=lambda wc: {process: sample_shards(process) for process in sorted({*GENERATED, *IMPORTED})},
    log:
        "results/logs/sample_summary.log",
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/summarize_samples.py"


rule sample_plots:
    output:
        plot=report(
            "results/samples/plots/sample_overview.png",
            caption="../report/samples.rst",
            category="Samples",
        ),
        pdf="results/samples/plots/sample_overview.pdf",
    input:
        samples=all_sample_shards(),
        code=script_code("sample_plots.py"),
    params:
        samples=lambda wc: {process: sample_shards(process) for process in sorted({*GENERATED, *IMPORTED})},
    log:
        "results/logs/sample_plots.log",
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/sample_plots.py"
