"""Exact reruns: every rule declares the library code its script imports, an edit reruns only the jobs that run the
edited code (and what depends on their outputs), and a finished project moved to another folder has nothing to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import TEST_CONFIG, copy_finished_run, copy_workflow, planned_jobs, run_snakemake

pytestmark = pytest.mark.workflow

# Rules with a script and, on purpose, no code input: the FK tables are versioned files named by the hash of the
# theory settings (workflow/rules/pdf.smk), so that no checkout ever recompiles eko.
WITHOUT_CODE = {"pdf_theory"}

# Appended to the Snakefile of a scratch copy: at parse time, write every script rule's declared code inputs (a
# wildcard-dependent code input is evaluated for each generated process).
DUMP_DECLARED = """

def _dump_declared_code(path):
    import json
    from snakemake.iocontainers import Wildcards

    declared = {}
    for rule in workflow.rules:
        if not rule.script:
            continue
        code = rule.input.get("code")
        script = os.path.normpath(os.path.join(os.path.dirname(rule.snakefile), str(rule.script)))
        if callable(code):
            for process in sorted(GENERATED):
                wildcards = Wildcards(fromdict={"process": process, "shard": "0"})
                declared[f"{rule.name}[{process}]"] = {"script": script, "code": list(code(wildcards))}
        else:
            declared[rule.name] = {"script": script, "code": None if code is None else [str(f) for f in code]}
    Path(path).write_text(json.dumps(declared, indent=1))


_dump_declared_code({path!r})
"""

# Run in a subprocess with the scratch copy's src first on the path: execute the module-level imports of each script
# (what the job runs before anything else) and list the ml4hep modules they loaded, as files.
TRACE_IMPORTS = textwrap.dedent("""
    import ast, json, sys
    traced = {}
    for script in json.loads(sys.argv[1]):
        for name in [m for m in sys.modules if m == "ml4hep" or m.startswith("ml4hep.")]:
            del sys.modules[name]
        tree = ast.parse(open(script).read())
        imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(body=imports, type_ignores=[]), script, "exec"), {})
        traced[script] = sorted(m.__file__ for name, m in sys.modules.items()
                                if (name == "ml4hep" or name.startswith("ml4hep.")) and getattr(m, "__file__", None))
    print(json.dumps(traced))
""")

# Jobs that train, generate, fit or compute numbers; none of them may rerun when only plotting code changes.
COMPUTE_RULES = {
    "generate_sample",
    "import_sample",
    "sample_summary",
    "toptag_shard_features",
    "toptag_features",
    "toptag_train_baseline",
    "toptag_train_network",
    "toptag_train_flatness_bdt",
    "toptag_train_disco",
    "toptag_train_uboost",
    "higgs_shard_features",
    "higgs_features",
    "higgs_train_baseline",
    "higgs_train_dnn",
    "higgs_limits",
    "higgs_regression",
    "higgs_parameterised",
    "higgs_heavy_limits",
    "pdf_data",
    "pdf_theory",
    "pdf_inputs",
    "pdf_replica",
    "pdf_postfit",
    "susy_efficiency_grid",
    "susy_scan",
    "susy_label",
    "susy_dataset",
    "susy_train_rf",
    "susy_train_bdt",
    "susy_train_mlp",
    "susy_toys",
    "susy_active_pool",
    "susy_active_round",
    "sbi_generate",
    "sbi_dataset",
    "sbi_reference",
    "sbi_train_baseline",
    "sbi_train_network",
    "sbi_inference",
    "pdf_replica_batch",
}
RENDER_RULES = {
    "sample_plots",
    "higgs_regression_plots",
    "higgs_parameterised_plots",
    "higgs_heavy_limits_plot",
    "susy_efficiency_grid_plot",
}


@pytest.fixture(scope="module")
def declared(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """A scratch copy of the workflow and every script rule's script and declared code inputs."""
    workdir = copy_workflow(tmp_path_factory.mktemp("declared"))
    dump = workdir / "declared.json"
    with open(workdir / "Snakefile", "a") as stream:
        stream.write(DUMP_DECLARED.replace("{path!r}", repr(str(dump))))
    run_snakemake(workdir, "--list-rules", *TEST_CONFIG)
    return workdir, json.loads(dump.read_text())


def traced_imports(workdir: Path, scripts: list[str]) -> dict[str, list[str]]:
    """Script -> files (relative to ``workdir``) of the ml4hep modules its module-level imports load."""
    env = {**os.environ, "PYTHONPATH": str(workdir / "src"), "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-c", TRACE_IMPORTS, json.dumps(scripts)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    traced = json.loads(result.stdout.strip().splitlines()[-1])
    return {script: [os.path.relpath(f, workdir) for f in files] for script, files in traced.items()}


def test_every_rule_declares_the_code_its_script_imports(declared):
    workdir, rules = declared
    assert {
        "toptag_train_network",
        "higgs_regression_plots",
        "susy_efficiency_grid",
        "generate_sample[higgs_ggh125]",
        "sample_plots",
        "combine",
    } <= set(rules)
    missing_code = sorted(name for name, rule in rules.items() if rule["code"] is None and name not in WITHOUT_CODE)
    assert missing_code == [], "rules with a script but no code input"
    traced = traced_imports(workdir, sorted({rule["script"] for rule in rules.values()}))
    for name, rule in rules.items():
        if rule["code"] is None:
            continue
        assert all(not os.path.isabs(path) for path in rule["code"]), f"{name}: code inputs must be relative"
        imported = set(traced[rule["script"]])
        assert imported, name
        assert imported <= set(rule["code"]), f"{name}: imports {sorted(imported - set(rule['code']))} undeclared"


def test_generation_and_compute_do_not_depend_on_plotting(declared):
    _, rules = declared
    for name, rule in rules.items():
        if name.split("[")[0] in COMPUTE_RULES and rule["code"]:
            assert not [p for p in rule["code"] if p.startswith("src/ml4hep/plots/")], name
    assert "src/ml4hep/generate/toptag.py" not in rules["generate_sample[higgs_ggh125]"]["code"]
    assert "src/ml4hep/generate/higgs.py" not in rules["generate_sample[toptag_ttbar]"]["code"]


def append_comment(path: Path) -> None:
    """An edit of a library file (Snakemake compares checksums of small files: a mere touch reruns nothing)."""
    with open(path, "a") as stream:
        stream.write("\n# an edit\n")


def dry_run_jobs(workdir: Path) -> list[tuple[str, str]]:
    return planned_jobs(run_snakemake(workdir, "-n", *TEST_CONFIG).stdout)


def test_moved_project_has_nothing_to_do(finished_run, tmp_path):
    workdir = copy_finished_run(finished_run, tmp_path / "elsewhere" / "project")
    result = run_snakemake(workdir, "-n", *TEST_CONFIG)
    assert "Nothing to be done" in result.stdout, planned_jobs(result.stdout)
    assert planned_jobs(result.stdout) == []


def test_editing_the_plot_style_only_re_renders(finished_run, tmp_path):
    workdir = copy_finished_run(finished_run, tmp_path / "project")
    append_comment(workdir / "src/ml4hep/plots/style.py")
    rules = {rule for rule, _ in dry_run_jobs(workdir)}
    print("plot style edit reruns:", sorted(rules))
    assert not rules & COMPUTE_RULES, f"compute jobs rerun for a plot-style edit: {sorted(rules & COMPUTE_RULES)}"
    assert RENDER_RULES | {"toptag_evaluate", "higgs_evaluate", "susy_evaluate", "pdf_evaluate"} <= rules


def test_editing_the_top_tagging_models_reruns_the_torch_taggers_only(finished_run, tmp_path):
    workdir = copy_finished_run(finished_run, tmp_path / "project")
    append_comment(workdir / "src/ml4hep/toptag/models.py")
    jobs = dry_run_jobs(workdir)
    print("toptag/models.py edit reruns:", jobs)
    trained = sorted(w for rule, w in jobs if rule == "toptag_train_network")
    assert trained == sorted(f"tagger={t}" for t in ("cnn", "pfn", "efn", "particlenet", "part", "rnn_tree"))
    # toptag_decorrelation compares the retrained taggers' scores (sculpting); the decorrelated taggers do not rerun
    expected = {"toptag_train_network", "toptag_decorrelation", "toptag_evaluate", "combine", "provenance", "all"}
    assert {rule for rule, _ in jobs} == expected


def test_editing_io_reruns_what_reads_or_writes_through_it(finished_run, declared, tmp_path):
    _, declared_rules = declared
    users = {
        name.split("[")[0]
        for name, rule in declared_rules.items()
        if rule["code"] and "src/ml4hep/io.py" in rule["code"]
    }
    workdir = copy_finished_run(finished_run, tmp_path / "project")
    append_comment(workdir / "src/ml4hep/io.py")
    jobs = dry_run_jobs(workdir)
    rules = {rule for rule, _ in jobs}
    print("io.py edit reruns:", sorted(rules))
    # No user file in the test config (nothing is imported) and no toys (susy.recast.toys is off there)
    assert users - {"import_sample", "susy_toys"} <= rules
    assert sum(rule == "generate_sample" for rule, _ in jobs) == 17, "every generated shard is written through io"
    non_users = {name for name, rule in declared_rules.items() if rule["code"] and name not in users}
    assert "pdf_data" in non_users and "pdf_data" not in rules, "the PDF data never goes through ml4hep.io"
