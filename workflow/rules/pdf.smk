# PDF replicas (NNPDF-like): nnpdf-data -> FK tables (eko, versioned in theory/fk/<hash>/) -> fit inputs per closure
# fit -> one job per batch of replicas_per_job replicas (one vectorised model) [GPU rule] -> per-replica files ->
# postfit -> chi2 tables, closure estimators, bands, metrics.json.

from ml4hep.pdf.fit import replica_batches
from ml4hep.pdf.theory import observable_kind, settings_hash

PDF = config["pdf"]
PDF_DATASETS = list(PDF["datasets"])
PDF_FK_DIR = f"theory/fk/{settings_hash(PDF['theory'])}"
PDF_FITS = list(range(PDF["closure"]["fits"] if PDF["mode"] == "closure" else 1))
PDF_REPLICAS = list(range(PDF["replicas"]))
PDF_BATCHES = replica_batches(PDF["replicas"], PDF["replicas_per_job"])  # replicas of each pdf_replica_batch job
PDF_BATCH_OF = {replica: batch for batch, replicas in enumerate(PDF_BATCHES) for replica in replicas}
PDF_BAND_FLAVOURS = ("g", "sigma", "uv", "dv")
for _name in PDF_DATASETS:
    observable_kind(_name)  # a dataset the theory has no coefficients for stops the run here, not in a job
for _name in PDF["closure"]["held_out"]:
    if _name not in PDF["datasets"]:
        raise ConfigError(f"pdf.closure.held_out: {_name!r} is not in pdf.datasets")


def pdf_table_kind(table):
    """What one theory file holds: a dataset's FK table, the positivity FK table, or the evolution to Q."""
    return {"POSITIVITY": "positivity", "EVOLUTION": "evolution"}.get(table, "dataset")


rule pdf_data:
    output:
        "results/pdf/data/{dataset}.npz",
    input:
        code=script_code("pdf_data.py"),
    params:
        variant=lambda wc: PDF["datasets"][wc.dataset]["variant"],
    wildcard_constraints:
        dataset=names_regex(PDF_DATASETS),
    log:
        "results/logs/pdf/data_{dataset}.log",
    benchmark:
        "results/benchmarks/pdf/data_{dataset}.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/pdf_data.py"


# No inputs on purpose: the tables are versioned files named by the hash of the theory settings, so a fresh checkout
# (any file times) never recompiles eko; new settings give a new folder, which this rule fills.
rule pdf_theory:
    output:
        f"{PDF_FK_DIR}/{{table}}.npz",
    params:
        settings=PDF["theory"],
        kind=lambda wc: pdf_table_kind(wc.table),
        dataset=lambda wc: wc.table if pdf_table_kind(wc.table) == "dataset" else None,
        variant=lambda wc: PDF["datasets"].get(wc.table, {}).get("variant", "legacy"),
    wildcard_constraints:
        table=names_regex([*PDF_DATASETS, "POSITIVITY", "EVOLUTION"]),
    log:
        "results/logs/pdf/theory_{table}.log",
    benchmark:
        "results/benchmarks/pdf/theory_{table}.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/pdf_theory.py"


rule pdf_inputs:
    output:
        "results/pdf/inputs/fit{fit}.npz",
    input:
        data=expand("results/pdf/data/{dataset}.npz", dataset=PDF_DATASETS),
        fk=expand(f"{PDF_FK_DIR}/{{dataset}}.npz", dataset=PDF_DATASETS),
        positivity=f"{PDF_FK_DIR}/POSITIVITY.npz",
        code=script_code("pdf_inputs.py"),
    params:
        datasets=PDF_DATASETS,
        options=PDF,
        seed=lambda wc: derive_seed(config["seed"], "pdf", "level1", wc.fit),
    wildcard_constraints:
        fit=r"\d+",
    log:
        "results/logs/pdf/inputs_fit{fit}.log",
    benchmark:
        "results/benchmarks/pdf/inputs_fit{fit}.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/pdf_inputs.py"


def pdf_batch_seeds(fit, batch):
    """The seeds of one batch's replicas: each replica's own, as when it was a job of its own."""
    return [derive_seed(config["seed"], "pdf", "replica", fit, replica) for replica in PDF_BATCHES[int(batch)]]


# One job fits the replicas of one batch together (ml4hep.pdf.fit.fit_replicas: the networks stacked, each replica
# with its own seed, data replica, split, preprocessing, initial weights and early stopping; the same result as a job
# of its own). It writes the replicas' files into a temporary batch folder; pdf_replica copies them to their places.
rule pdf_replica_batch:
    output:
        batch=temp(directory("results/pdf/replica_batches/fit{fit}/batch{batch}")),
    input:
        inputs="results/pdf/inputs/fit{fit}.npz",
        code=script_code("pdf_replica.py"),
    params:
        options=PDF,
        replicas=lambda wc: PDF_BATCHES[int(wc.batch)],
        seeds=lambda wc: pdf_batch_seeds(wc.fit, wc.batch),
        device=config["device"],
    wildcard_constraints:
        fit=r"\d+",
        batch=r"\d+",
    threads: 1
    log:
        "results/logs/pdf/replica_batch_fit{fit}_{batch}.log",
    benchmark:
        "results/benchmarks/pdf/replica_batch_fit{fit}_{batch}.tsv"
    resources:
        gpu=gpu_request(),
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/pdf_replica.py"


# A replica's files, as one job of its own used to write them (other rules read them here); the batch folder goes
# once all its replicas are copied.
rule pdf_replica:
    localrule: True
    output:
        replica="results/pdf/replicas/fit{fit}/replica{replica}.npz",
        model="results/pdf/replicas/fit{fit}/replica{replica}.pt",
    input:
        batch=lambda wc: f"results/pdf/replica_batches/fit{wc.fit}/batch{PDF_BATCH_OF[int(wc.replica)]}",
    wildcard_constraints:
        fit=r"\d+",
        replica=r"\d+",
    run:
        import shutil
        from pathlib import Path

        for path in output:
            shutil.copyfile(Path(input.batch) / Path(path).name, path)


rule pdf_postfit:
    output:
        ensemble="results/pdf/ensemble.npz",
        summary="results/pdf/postfit.json",
    input:
        inputs=expand("results/pdf/inputs/fit{fit}.npz", fit=PDF_FITS),
        replicas=expand("results/pdf/replicas/fit{fit}/replica{replica}.npz", fit=PDF_FITS, replica=PDF_REPLICAS),
        code=script_code("pdf_postfit.py"),
    params:
        options=PDF,
        replicas=len(PDF_REPLICAS),
    log:
        "results/logs/pdf/postfit.log",
    benchmark:
        "results/benchmarks/pdf/postfit.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/pdf_postfit.py"


def pdf_band_outputs():
    """Band plots at Q0 (PNG in the report, PDF alongside)."""
    outputs = {}
    for flavour in PDF_BAND_FLAVOURS:
        outputs[f"band_{flavour}"] = report(f"results/pdf/plots/band_{flavour}.png", caption="../report/pdf_band.rst",
                                            category="PDF replicas")
        outputs[f"band_{flavour}_pdf"] = f"results/pdf/plots/band_{flavour}.pdf"
    return outputs


rule pdf_evaluate:
    output:
        metrics="results/pdf/metrics.json",
        chi2_csv="results/pdf/chi2.csv",
        chi2_md="results/pdf/chi2.md",
        chi2_tex="results/pdf/chi2.tex",
        ensemble_q="results/pdf/ensemble_q.npz",
        **pdf_band_outputs(),
        bands_q=report("results/pdf/plots/bands_q.png", caption="../report/pdf_bands_q.rst", category="PDF replicas"),
        bands_q_pdf="results/pdf/plots/bands_q.pdf",
        curves=report("results/pdf/plots/chi2_curves.png", caption="../report/pdf_chi2_curves.rst",
                      category="PDF replicas"),
        curves_pdf="results/pdf/plots/chi2_curves.pdf",
    input:
        inputs=expand("results/pdf/inputs/fit{fit}.npz", fit=PDF_FITS),
        ensemble="results/pdf/ensemble.npz",
        postfit="results/pdf/postfit.json",
        evolution=f"{PDF_FK_DIR}/EVOLUTION.npz",
        curves=expand("results/pdf/replicas/fit0/replica{replica}.npz", replica=PDF_REPLICAS),
        code=script_code("pdf_evaluate.py"),
    params:
        options=PDF,
        seed=derive_seed(config["seed"], "pdf", "bootstrap"),
    log:
        "results/logs/pdf/evaluate.log",
    benchmark:
        "results/benchmarks/pdf/evaluate.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/pdf_evaluate.py"
