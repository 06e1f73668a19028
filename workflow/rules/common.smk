# Shared helpers: config validation, the sample catalogue, the library code (import closure) each rule runs.

import os
from pathlib import Path

from snakemake.io import is_flagged

from ml4hep import workflow_code
from ml4hep.config import derive_seed, load_schema, validate_config
from ml4hep.errors import ConfigError
from ml4hep.generate.processes import generated_processes, shard_config

validate_config(config, load_schema(Path(workflow.basedir) / "config" / "schema.yaml"))

LIBRARY = Path(workflow.basedir) / "src" / "ml4hep"
GENERATED = generated_processes(config)
IMPORTED = config["inputs"]


def script_code(script, without=()):
    """The library files that the script ``scripts/<script>`` runs, i.e. its import closure over src/ml4hep
    (package ``__init__`` files and module data included; ml4hep.workflow_code), computed when the workflow is
    parsed.

    Editing one of them reruns exactly the jobs that run it; the paths are relative to the working directory, so a
    finished project moved to another folder has the same inputs. ``without`` names modules a rule's jobs never reach
    (imported lazily on a code path of other rules that share the script).
    """
    return workflow_code.script_code(Path(workflow.basedir) / "scripts" / script, LIBRARY.parent, os.getcwd(), without)


def generation_code(sample_set):
    """Library files a generation job of ``sample_set`` runs (the other sets' event builders are left out)."""
    others = sorted({"higgs", "toptag"} - {sample_set})
    return script_code("generate_sample.py", without=[f"ml4hep.generate.{other}" for other in others])


def sample_shards(process):
    """The ROOT files of one sample (generated shards or imported user files)."""
    if process in IMPORTED:
        n = len(IMPORTED[process]["files"])
    elif process in GENERATED:
        n = GENERATED[process].shards
    else:
        raise ConfigError(f"unknown sample {process!r}; known: {sorted({*GENERATED, *IMPORTED})}")
    return [f"results/samples/{process}/{shard}.root" for shard in range(n)]


def all_sample_shards():
    """Every sample file of the configured analysis."""
    return [path for process in sorted({*GENERATED, *IMPORTED}) for path in sample_shards(process)]


def names_regex(names):
    """A wildcard constraint matching exactly these names (and nothing when there are none)."""
    import re

    return "|".join(re.escape(name) for name in sorted(names)) or "(?!)"


def gpu_request():
    """GPUs a training job asks for: one when the device may be CUDA (a cluster profile then sends it to a GPU
    node); locally an undeclared resource is unlimited, so a laptop never waits for a GPU it does not have."""
    return 0 if config["device"] == "cpu" else 1


# Start and end of a run (the Snakefile's onstart/onsuccess/onerror)


RUN_OUTPUTS = []  # the outputs of the jobs this run does (set when it starts)


def on_start():
    """Before the first job: the checks that depend on where the jobs run, then keep the outputs the run redoes."""
    from ml4hep.config import invalid
    from ml4hep.devices import local_device_problems
    from ml4hep.previous import keep_previous

    problems = local_device_problems(config, local=workflow.local_exec and not workflow.touch)
    if problems:
        raise invalid(problems)
    RUN_OUTPUTS[:] = [f for job in workflow.dag.needrun_jobs() for f in job.output if not is_flagged(f, "temp")]
    keep_previous(RUN_OUTPUTS)


def on_end():
    """After the last job, successful or not: name the earlier good outputs that failed jobs removed (kept)."""
    import sys

    from ml4hep.previous import previous_note, prune_previous

    note = previous_note(prune_previous(".", RUN_OUTPUTS))
    if note:
        print(note, file=sys.stderr)


# Samples (samples.smk)


def local_source(process, shard):
    """The user's file as a rule input when it is local (a missing file then stops the run at once)."""
    from ml4hep.io import is_remote

    source = IMPORTED[process]["files"][shard]
    return [] if is_remote(source) else [source]


# Top tagging (toptag.smk)


def toptag_feature_files():
    return {split: f"results/toptag/features/{split}.root" for split in TOPTAG_SPLITS}


def toptag_shard_feature_files():
    """Sample -> the feature files of its shards (one toptag_shard_features job each)."""
    return {
        sample: [f"results/toptag/features/shards/{sample}/{shard}.root" for shard in range(len(sample_shards(sample)))]
        for sample in TOPTAG["samples"]
    }


def toptag_model_file(tagger):
    return f"results/toptag/models/{tagger}{TAGGERS.model_class(tagger).suffix}"


def toptag_hyper(tagger):
    """A tagger's hyper-parameters (ml4hep.toptag.taggers.tagger_hyper)."""
    return tagger_hyper(TOPTAG, tagger)


def toptag_decorrelated_files(method, pattern):
    """One file per strength of a decorrelated tagger: ``pattern`` under results/toptag/decorrelation/ with {index}."""
    strengths = TOPTAG["decorrelation"][method]["strengths"]
    return [f"results/toptag/decorrelation/{pattern}".format(index=index) for index in range(len(strengths))]


def toptag_decorrelated_hyper(method):
    """A decorrelated tagger's hyper-parameters (ml4hep.toptag.decorrelated.decorrelated_hyper)."""
    return decorrelated_hyper(TOPTAG["decorrelation"], method)


# Higgs (higgs.smk)


def higgs_roles():
    """Sample name -> role in the event table."""
    if HIGGSML:
        return {HIGGSML: "higgsml"}
    roles = {name: "signal" for name in HIGGS["signal"]}
    roles.update({name: "background" for name in HIGGS["backgrounds"]})
    roles.update({name: "heavy" for name in HIGGS_HEAVY})
    for name, entry in IMPORTED.items():
        if name in roles and entry["set"] == "higgsml":
            roles[name] = "higgsml"
    return roles


def higgs_targets():
    """The final outputs of the Higgs task (the generator-truth and heavy-Higgs parts only on generated samples)."""
    targets = ["results/higgs/classifiers.json", "results/higgs/limits.json", "results/higgs/metrics.json"]
    if not HIGGSML:
        targets += [
            "results/higgs/regression/metrics.json",
            "results/higgs/heavy_limits.json",
            # the render rules' figures and tables
            "results/higgs/plots/mass_regression.png",
            "results/higgs/plots/auc_vs_mass.png",
            "results/higgs/plots/heavy_limits.png",
        ]
    return targets


def higgs_metrics_inputs():
    """The rule outputs the headline metrics are assembled from."""
    inputs = {"classifiers": "results/higgs/classifiers.json", "limits": "results/higgs/limits.json"}
    if not HIGGSML:
        inputs.update(
            regression="results/higgs/regression/metrics.json",
            parameterised="results/higgs/parameterised/metrics.json",
            heavy_limits="results/higgs/heavy_limits.json",
        )
    return inputs


def heavy_processes():
    """(sample name, mass) of every heavy-Higgs sample."""
    return [(f"higgs_heavyh{m}", float(m)) for m in config["samples"]["higgs"]["heavy_higgs"]["masses_gev"]]


def higgs_feature_files():
    return {split: f"results/higgs/features/{split}.root" for split in HIGGS_SPLITS}


def higgs_shard_tables():
    """Sample -> the event tables of its shards (one higgs_shard_features job each)."""
    return {
        name: [f"results/higgs/features/shards/{name}/{shard}.npz" for shard in range(len(sample_shards(name)))]
        for name in higgs_roles()
    }


def higgs_hyper(classifier):
    """A classifier's hyper-parameters: its config section (bdt_mreg shares the BDT's; the window needs b_r)."""
    if classifier == "cut":
        return {"ams_regularisation": HIGGS["ams_regularisation"], **HIGGS["ams"]}
    return dict(HIGGS["bdt" if classifier == "bdt_mreg" else classifier])


def regressed_mass_input(wildcards):
    """The regressed-mass predictions, for the BDT that uses them as an extra feature."""
    return ["results/higgs/regression/predictions.root"] if wildcards.classifier == "bdt_mreg" else []


# PDF replicas (pdf.smk)


def pdf_theory_table(table):
    """A theory table: the repository's versioned file (theory/fk/<hash>/) when it holds one, else the file that
    pdf_theory computes under results/pdf/theory/<hash>/.

    A versioned table is a source file, made by no rule; Snakemake 9 reruns a job whose output is older than its
    script, and the file times of a fresh clone or a copied project are arbitrary, so as a rule output it would
    send eko (a 13-minute numba compile on first use) into runs that need nothing computed.
    """
    versioned = Path(PDF_FK_DIR) / f"{table}.npz"
    return str(versioned) if versioned.is_file() else f"{PDF_COMPUTED_FK_DIR}/{table}.npz"


def pdf_table_kind(table):
    """What one theory file holds: a dataset's FK table, the positivity FK table, or the evolution to Q."""
    return {"POSITIVITY": "positivity", "EVOLUTION": "evolution"}.get(table, "dataset")


def pdf_batch_seeds(fit, batch):
    """The seeds of one batch's replicas: each replica's own, as when it was a job of its own."""
    return [derive_seed(config["seed"], "pdf", "replica", fit, replica) for replica in PDF_BATCHES[int(batch)]]


def pdf_band_outputs():
    """Band plots at Q0 (PNG in the report, PDF alongside)."""
    outputs = {}
    for flavour in PDF_BAND_FLAVOURS:
        outputs[f"band_{flavour}"] = report(
            f"results/pdf/plots/band_{flavour}.png",
            caption="../report/pdf_band.rst",
            category="PDF replicas",
            labels={"result": f"PDF band of {flavour} at Q0", "type": "figure"},
        )
        outputs[f"band_{flavour}_pdf"] = f"results/pdf/plots/band_{flavour}.pdf"
    return outputs


# SUSY (susy.smk)


def susy_shard_points(shard):
    """(points, first point id) of one scan shard."""
    from ml4hep.susy.scan import shard_sizes

    sizes = shard_sizes(SUSY["scan"]["points"], SUSY["scan"]["shards"])
    return sizes[int(shard)], sum(sizes[: int(shard)])


def susy_split_files():
    return {split: f"results/susy/dataset/{split}.npz" for split in SUSY_SPLITS}


def susy_model_file(classifier):
    return f"results/susy/models/{classifier}{SUSY_MODELS.model_class(classifier).suffix}"


def susy_grid_for_recast():
    """The grid CSV when the recast uses it (an input of the label and evaluation jobs), else nothing."""
    return ["results/susy/efficiency_grid.csv"] if SUSY_GRID["use_in_recast"] else []


def susy_grid_summary():
    return ["results/susy/efficiency_grid.json"] if SUSY_GRID["events"] > 0 else []


def susy_targets():
    """The final outputs of the SUSY task (the efficiency-grid figure when the grid is simulated)."""
    return [
        "results/susy/metrics.json",
        "results/susy/workspaces/benchmarks.csv",
        *(["results/susy/plots/efficiency_grid.png"] if SUSY_GRID["events"] else []),
    ]


# SUSY active learning (susy_active.smk)


def susy_active_labelled(round):
    """The labelled sets of both strategies after one round (``round`` may be the wildcard ``"{round}"``)."""
    return expand(
        "results/susy_active/labelled/{strategy}/round{round}.npz", strategy=SUSY_ACTIVE_STRATEGIES, round=round
    )


# Simulation-based inference (sbi.smk)


def sbi_sample_events(sample):
    """Events of one sbi sample (``nominal``, ``reference`` or ``theta<θ1>``)."""
    return SBI[sample]["events"] if sample in ("nominal", "reference") else SBI["direct"]["events"]


def sbi_shards(sample):
    """The ROOT files of one sbi sample (``nominal``, ``reference`` or ``theta<θ1>``)."""
    shards = -(-sbi_sample_events(sample) // SBI["events_per_shard"])  # ceil
    return [f"results/sbi/samples/{sample}/{shard}.root" for shard in range(shards)]


def sbi_shard_events(sample, shard):
    """Events of one shard: the sample's events spread over its shards (the first ones take the remainder)."""
    events = sbi_sample_events(sample)
    shards = len(sbi_shards(sample))
    return events // shards + (1 if int(shard) < events % shards else 0)


def sbi_model_file(estimator):
    return f"results/sbi/models/{estimator}{SBI_ESTIMATORS.model_class(estimator).suffix}"


# Combine (combine.smk)


def task_targets():
    """The final outputs of every configured task."""
    return [path for task in TASKS for path in TASK_TARGETS[task]()]


def summary_tasks():
    """Configured tasks in the summary's order."""
    return [task for task in ("higgs", "toptag", "pdf", "susy", "susy_active", "sbi") if task in TASKS]
