# PDF replicas (NNPDF-like): nnpdf-data -> FK tables (eko; versioned in theory/fk/<hash>/, else computed under
# results/pdf/theory/<hash>/) -> fit inputs per closure
# fit -> one job per batch of replicas_per_job replicas (one vectorised model) [GPU rule] -> per-replica files ->
# postfit -> chi2 tables, closure estimators, bands, metrics.json.

from ml4hep.pdf.batches import replica_batches
from ml4hep.pdf.lhapdf import check_q_knots, lhapdf_table_name
from ml4hep.pdf.theory import observable_kind, settings_hash

PDF = config["pdf"]
PDF_DATASETS = list(PDF["datasets"])
PDF_FK_DIR = f"theory/fk/{settings_hash(PDF['theory'])}"  # the versioned tables (source files)
PDF_COMPUTED_FK_DIR = f"results/pdf/theory/{settings_hash(PDF['theory'])}"  # what pdf_theory computes
PDF_FITS = list(range(PDF["closure"]["fits"] if PDF["mode"] == "closure" else 1))
PDF_REPLICAS = list(range(PDF["replicas"]))
PDF_BATCHES = replica_batches(PDF["replicas"], PDF["replicas_per_job"])  # replicas of each pdf_replica_batch job
PDF_BATCH_OF = {replica: batch for batch, replicas in enumerate(PDF_BATCHES) for replica in replicas}
PDF_BAND_FLAVOURS = ("g", "sigma", "uv", "dv")
for _name in PDF_DATASETS:
    observable_kind(_name)  # a dataset the theory has no coefficients for stops the run here, not in a job
check_q_knots(PDF["theory"], PDF["lhapdf"]["q_knots"])
PDF_LHAPDF_TABLE = lhapdf_table_name(PDF["lhapdf"]["q_knots"])  # versioned or computed: pdf_theory_table
PDF_LHAPDF_SETS = {
    "fit": f"results/pdf/lhapdf/{PDF['lhapdf']['name']}",
    **({"truth": f"results/pdf/lhapdf/{PDF['lhapdf']['name']}_truth"} if PDF["mode"] == "closure" else {}),
}


rule pdf_data:
    input:
        code=script_code("pdf_data.py"),
    output:
        "results/pdf/data/{dataset}.npz",
    log:
        "results/logs/pdf/data_{dataset}.log",
    benchmark:
        "results/benchmarks/pdf/data_{dataset}.tsv"
    wildcard_constraints:
        dataset=names_regex(PDF_DATASETS),
    conda:
        "../../envs/ml4hep.yaml"
    params:
        variant=lambda wc: PDF["datasets"][wc.dataset]["variant"],
    script:
        "../../scripts/pdf_data.py"


# Runs only for theory settings whose tables the repository does not hold (pdf_theory_table): the versioned tables
# are source files, made by no rule, so that a fresh clone or a copy (any file times) never recompiles eko.
rule pdf_theory:
    output:
        f"{PDF_COMPUTED_FK_DIR}/{{table}}.npz",
    log:
        "results/logs/pdf/theory_{table}.log",
    benchmark:
        "results/benchmarks/pdf/theory_{table}.tsv"
    wildcard_constraints:
        table=names_regex([*PDF_DATASETS, "POSITIVITY", "EVOLUTION"]),
    conda:
        "../../envs/ml4hep.yaml"
    params:
        settings=PDF["theory"],
        kind=lambda wc: pdf_table_kind(wc.table),
        dataset=lambda wc: wc.table if pdf_table_kind(wc.table) == "dataset" else None,
        variant=lambda wc: PDF["datasets"].get(wc.table, {}).get("variant", "legacy"),
    script:
        "../../scripts/pdf_theory.py"


rule pdf_inputs:
    input:
        data=expand("results/pdf/data/{dataset}.npz", dataset=PDF_DATASETS),
        fk=[pdf_theory_table(dataset) for dataset in PDF_DATASETS],
        positivity=pdf_theory_table("POSITIVITY"),
        code=script_code("pdf_inputs.py"),
    output:
        "results/pdf/inputs/fit{fit}.npz",
    log:
        "results/logs/pdf/inputs_fit{fit}.log",
    benchmark:
        "results/benchmarks/pdf/inputs_fit{fit}.tsv"
    wildcard_constraints:
        fit=r"\d+",
    conda:
        "../../envs/ml4hep.yaml"
    params:
        datasets=PDF_DATASETS,
        options=PDF,
        seed=lambda wc: derive_seed(config["seed"], "pdf", "level1", wc.fit),
    script:
        "../../scripts/pdf_inputs.py"


# One job fits the replicas of one batch together (ml4hep.pdf.fit.fit_replicas: the networks stacked, each replica
# with its own seed, data replica, split, preprocessing, initial weights and early stopping; the same result as a job
# of its own). It writes the replicas' files into a temporary batch folder; pdf_replica copies them to their places.
rule pdf_replica_batch:
    input:
        inputs="results/pdf/inputs/fit{fit}.npz",
        code=script_code("pdf_replica.py"),
    output:
        batch=temp(directory("results/pdf/replica_batches/fit{fit}/batch{batch}")),
    log:
        "results/logs/pdf/replica_batch_fit{fit}_{batch}.log",
    benchmark:
        "results/benchmarks/pdf/replica_batch_fit{fit}_{batch}.tsv"
    wildcard_constraints:
        fit=r"\d+",
        batch=r"\d+",
    conda:
        "../../envs/ml4hep.yaml"
    threads: 1
    resources:
        gpu=gpu_request(),
    params:
        options=PDF,
        replicas=lambda wc: PDF_BATCHES[int(wc.batch)],
        seeds=lambda wc: pdf_batch_seeds(wc.fit, wc.batch),
        device=config["device"],
    script:
        "../../scripts/pdf_replica.py"


# A replica's files, as one job of its own used to write them (other rules read them here); the batch folder goes
# once all its replicas are copied.
rule pdf_replica:
    input:
        batch=lambda wc: f"results/pdf/replica_batches/fit{wc.fit}/batch{PDF_BATCH_OF[int(wc.replica)]}",
        code=script_code("pdf_replica_copy.py"),
    output:
        replica="results/pdf/replicas/fit{fit}/replica{replica}.npz",
        model="results/pdf/replicas/fit{fit}/replica{replica}.pt",
    log:
        "results/logs/pdf/replica_copy_fit{fit}_{replica}.log",
    wildcard_constraints:
        fit=r"\d+",
        replica=r"\d+",
    localrule: True
    conda:
        "../../envs/ml4hep.yaml"
    script:
        "../../scripts/pdf_replica_copy.py"


rule pdf_postfit:
    input:
        inputs=expand("results/pdf/inputs/fit{fit}.npz", fit=PDF_FITS),
        replicas=expand("results/pdf/replicas/fit{fit}/replica{replica}.npz", fit=PDF_FITS, replica=PDF_REPLICAS),
        code=script_code("pdf_postfit.py"),
    output:
        ensemble="results/pdf/ensemble.npz",
        summary="results/pdf/postfit.json",
    log:
        "results/logs/pdf/postfit.log",
    benchmark:
        "results/benchmarks/pdf/postfit.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        options=PDF,
        replicas=len(PDF_REPLICAS),
    script:
        "../../scripts/pdf_postfit.py"


rule pdf_evaluate:
    input:
        inputs=expand("results/pdf/inputs/fit{fit}.npz", fit=PDF_FITS),
        ensemble="results/pdf/ensemble.npz",
        postfit="results/pdf/postfit.json",
        evolution=pdf_theory_table("EVOLUTION"),
        curves=expand("results/pdf/replicas/fit0/replica{replica}.npz", replica=PDF_REPLICAS),
        code=script_code("pdf_evaluate.py"),
    output:
        **pdf_band_outputs(),
        metrics="results/pdf/metrics.json",
        chi2_csv="results/pdf/chi2.csv",
        chi2_md="results/pdf/chi2.md",
        chi2_tex="results/pdf/chi2.tex",
        closure_csv="results/pdf/closure.csv",
        closure_md="results/pdf/closure.md",
        closure_tex="results/pdf/closure.tex",
        closure_plot=report(
            "results/pdf/plots/closure.png",
            caption="../report/pdf_closure.rst",
            category="PDF replicas",
            labels={"result": "closure estimators in and out of sample", "type": "figure"},
        ),
        closure_plot_pdf="results/pdf/plots/closure.pdf",
        ensemble_q="results/pdf/ensemble_q.npz",
        bands_q=report(
            "results/pdf/plots/bands_q.png",
            caption="../report/pdf_bands_q.rst",
            category="PDF replicas",
            labels={"result": "PDF bands vs Q", "type": "figure"},
        ),
        bands_q_pdf="results/pdf/plots/bands_q.pdf",
        curves=report(
            "results/pdf/plots/chi2_curves.png",
            caption="../report/pdf_chi2_curves.rst",
            category="PDF replicas",
            labels={"result": "χ² training curves", "type": "figure"},
        ),
        curves_pdf="results/pdf/plots/chi2_curves.pdf",
    log:
        "results/logs/pdf/evaluate.log",
    benchmark:
        "results/benchmarks/pdf/evaluate.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        options=PDF,
        seed=derive_seed(config["seed"], "pdf", "bootstrap"),
    script:
        "../../scripts/pdf_evaluate.py"


# The evolution operators from Q0 to the LHAPDF grid's Q knots: like the FK tables, a versioned file named by the
# theory settings (folder) and the knots (file), read as a source (pdf_theory_table), so that no run compiles eko
# for them; this rule computes the file for settings or knots the repository does not hold.
rule pdf_lhapdf_theory:
    input:
        code=script_code("pdf_lhapdf_theory.py"),
    output:
        f"{PDF_COMPUTED_FK_DIR}/{PDF_LHAPDF_TABLE}.npz",
    log:
        "results/logs/pdf/lhapdf_theory.log",
    benchmark:
        "results/benchmarks/pdf/lhapdf_theory.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        settings=PDF["theory"],
        q_knots=PDF["lhapdf"]["q_knots"],
    script:
        "../../scripts/pdf_lhapdf_theory.py"


# The fitted ensemble (member 0 the mean, then the replicas of the first fit) and the closure truth as LHAPDF6 sets.
rule pdf_lhapdf:
    input:
        ensemble="results/pdf/ensemble.npz",
        evolution=pdf_theory_table(PDF_LHAPDF_TABLE),
        code=script_code("pdf_lhapdf.py"),
    output:
        **{key: directory(path) for key, path in PDF_LHAPDF_SETS.items()},
    log:
        "results/logs/pdf/lhapdf.log",
    benchmark:
        "results/benchmarks/pdf/lhapdf.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        options=PDF,
    script:
        "../../scripts/pdf_lhapdf.py"
