"""The Snakemake workflow on the tiny config: dry run, config errors, a real sample stage, selective reruns."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ml4hep.config import load_config

from .conftest import TEST_CONFIG, copy_workflow, planned_jobs, run_snakemake

pytestmark = pytest.mark.workflow


def write_override(workdir, name, content):
    path = workdir / "config" / name
    path.write_text(yaml.safe_dump(content))
    return str(path.relative_to(workdir))


def test_dry_run_of_the_whole_workflow(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    for script in (workdir / "scripts").iterdir():
        os.utime(script)  # a checkout's file times are arbitrary: scripts newer than the versioned FK tables
    result = run_snakemake(workdir, "-n", *TEST_CONFIG)
    jobs = planned_jobs(result.stdout)
    generated = [w for rule, w in jobs if rule == "generate_sample"]
    # test.yaml, shards of 400: ztautau 1400 -> 4; ggh125 1200 -> 3; ttbar, 3 heavy masses -> 1 each; top 1000 -> 3 each
    assert len(generated) == 4 + 3 + 1 + 3 + 3 + 3
    assert ("sample_summary", "") in jobs and ("all", "") in jobs
    assert not any(rule == "pdf_theory" for rule, _ in jobs), "the FK tables of the test settings are versioned"
    assert not (workdir / "results").exists()


def test_default_config_dry_run(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    result = run_snakemake(workdir, "-n")
    assert "generate_sample" in result.stdout
    rules = {rule for rule, _ in planned_jobs(result.stdout)}
    assert {"pdf_replica", "susy_label", "combine", "provenance"} <= rules
    assert "pdf_theory" not in rules, "the FK tables of the default settings are versioned: eko never runs"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (("--config", "seedz=3"), "unknown config key 'seedz'"),
        (("--config", "events_per_shard=zero"), "config key 'events_per_shard': 'zero' is not of type 'integer'"),
    ],
)
def test_config_errors_stop_before_any_job(tmp_path, override, message):
    workdir = copy_workflow(tmp_path / "wf")
    result = run_snakemake(workdir, "--cores", "1", *TEST_CONFIG, *override, check=False)
    assert result.returncode != 0
    assert message in result.stdout
    assert not (workdir / "results").exists()


def test_sample_stage_outputs(finished_run):
    summary = (finished_run / "results/samples/summary.csv").read_text().splitlines()
    assert summary[0].startswith("sample,files,events_generated,entries")
    assert len(summary) == 1 + 8  # ggh125, ztautau, ttbar, three heavy masses, two top-tagging samples
    for process in ("higgs_ztautau", "toptag_ttbar"):
        for shard in (0, 1):
            assert (finished_run / f"results/samples/{process}/{shard}.root").stat().st_size > 0
            log = (finished_run / f"results/logs/generate_sample/{process}/{shard}.log").read_text()
            assert "evt/s" in log or "100%" in log, "the log shows generation progress"
            assert (finished_run / f"results/benchmarks/generate_sample/{process}/{shard}.tsv").exists()
    assert (finished_run / "results/samples/plots/sample_overview.png").stat().st_size > 10_000
    assert not list(finished_run.glob("results/samples/**/.*.partial"))


def test_finished_run_has_nothing_to_do(finished_run):
    result = run_snakemake(finished_run, "-n", *TEST_CONFIG)
    assert "Nothing to be done" in result.stdout
    assert planned_jobs(result.stdout) == []


def test_changing_one_process_reruns_only_its_shards(finished_run):
    override = write_override(
        finished_run, "more_z.yaml", {"samples": {"higgs": {"processes": {"ztautau": {"events": 2000}}}}}
    )
    result = run_snakemake(finished_run, "-n", "--configfile", "config/test.yaml", override)
    jobs = planned_jobs(result.stdout)
    generated = sorted(w for rule, w in jobs if rule == "generate_sample")
    assert generated == sorted(f"process=higgs_ztautau, shard={shard}" for shard in range(5))
    rules = {rule for rule, _ in jobs}
    assert {"generate_sample", "sample_summary", "higgs_features", "all"} <= rules
    assert not any(rule.startswith("toptag") for rule in rules), "the top-tagging task does not use Z->tautau"


def test_editing_a_library_module_reruns_the_rules_that_use_it(own_run):
    module = own_run / "src/ml4hep/generate/toptag.py"
    original = module.read_text()
    stat = module.stat()
    module.write_text(original + "\n# an edit\n")  # Snakemake compares checksums: a mere touch reruns nothing
    try:
        result = run_snakemake(own_run, "-n", *TEST_CONFIG)
    finally:
        module.write_text(original)
        os.utime(module, (stat.st_atime, stat.st_mtime))
    generated = {w.split(",")[0] for rule, w in planned_jobs(result.stdout) if rule == "generate_sample"}
    assert generated == {"process=toptag_ttbar", "process=toptag_qcd"}


def test_user_input_replaces_generation(own_run, tmp_path):
    user_file = tmp_path / "my_ztautau.root"
    user_file.write_bytes((own_run / "results/samples/higgs_ztautau/0.root").read_bytes())
    override = write_override(own_run, "user.yaml", {"inputs": {"higgs_ztautau": {"files": [str(user_file)]}}})
    result = run_snakemake(own_run, "-n", "--configfile", "config/test.yaml", override)
    jobs = planned_jobs(result.stdout)
    assert ("import_sample", "process=higgs_ztautau, shard=0") in jobs
    assert not any(rule == "generate_sample" for rule, _ in jobs)


def test_bad_user_file_stops_with_one_clear_message(own_run, tmp_path):
    bad = tmp_path / "not_root.root"
    bad.write_text("definitely not ROOT\n" * 20)
    override = write_override(own_run, "bad.yaml", {"inputs": {"mine": {"files": [str(bad)]}}})
    result = run_snakemake(
        own_run,
        "results/samples/mine/0.root",
        "--cores",
        "1",
        "--configfile",
        "config/test.yaml",
        override,
        check=False,
    )
    assert result.returncode != 0
    assert f"ERROR in rule import_sample: {bad}: not a readable ROOT file" in result.stdout
    assert not (own_run / "results/samples/mine/0.root").exists()


def test_missing_branch_in_user_file_names_it(own_run, tmp_path):
    source = own_run / "results/samples/toptag_qcd/0.root"
    override = write_override(own_run, "wrong_set.yaml", {"inputs": {"mine2": {"files": [str(source)]}}})
    result = run_snakemake(
        own_run,
        "results/samples/mine2/0.root",
        "--cores",
        "1",
        "--configfile",
        "config/test.yaml",
        override,
        check=False,
    )
    assert result.returncode != 0
    assert "lacks branch(es) lep_pt" in result.stdout


def test_every_top_tagger_beats_chance_on_held_out_jets(finished_run):
    metrics = json.loads((finished_run / "results/toptag/metrics.json").read_text())
    config = load_config(finished_run / "config" / "test.yaml")
    assert set(metrics["taggers"]) == set(config["toptag"]["taggers"])
    assert metrics["n_test"] > 100
    for name, m in metrics["taggers"].items():
        assert m["auc"] > 0.8 and m["auc"] - 3 * m["auc_err"] > 0.5, name
        assert m["accuracy"] > 0.65, name
        assert m["r50"] == "inf" or m["r50"] > 4.0, name  # chance gives 1/eps_B = 2 at eps_S = 0.5
        if name in ("cnn", "pfn", "efn", "particlenet", "part", "rnn_tree"):
            assert m["onnx_max_abs_diff"] < 1e-4 and m["device"] == "cpu"
    table = (finished_run / "results/toptag/taggers.md").read_text()
    assert table.count("\n") == 2 + len(metrics["taggers"])
    assert "ParticleNet" in table and "\\pm" in (finished_run / "results/toptag/taggers.tex").read_text()
    assert (finished_run / "results/toptag/plots/roc.png").stat().st_size > 10_000
    assert (finished_run / "results/toptag/models/particlenet.onnx").exists()


def test_higgs_classifiers_beat_chance_and_limits_exist(finished_run):
    metrics = json.loads((finished_run / "results/higgs/classifiers.json").read_text())
    for name in ("bdt", "dnn"):
        assert metrics["auc"][name] > 0.6 and metrics["auc"][name] - 2 * metrics["auc_err"][name] > 0.5, name
    assert set(metrics["ams"]) == {"cut", "bdt", "dnn", "bdt_mreg"}
    limits = json.loads((finished_run / "results/higgs/limits.json").read_text())
    for name, limit in limits.items():
        assert limit["mu_expected"] > 0 and limit["significance"] >= 0, name
        assert limit["band"] == sorted(limit["band"]), name
    for plot in ("roc", "ams", "scores"):
        assert (finished_run / f"results/higgs/plots/{plot}.png").stat().st_size > 10_000


def test_mass_regression_beats_the_visible_mass(finished_run):
    metrics = json.loads((finished_run / "results/higgs/regression/metrics.json").read_text())
    assert metrics["resolution_regressed"] < metrics["resolution_visible"]
    assert abs(metrics["bias_regressed"]) < abs(metrics["bias_visible"])
    assert (finished_run / "results/higgs/plots/mass_regression.png").stat().st_size > 10_000


def test_higgs_headline_metrics_and_heavy_limits(finished_run):
    metrics = json.loads((finished_run / "results/higgs/metrics.json").read_text())
    for key in ("cut", "bdt", "dnn"):
        assert key in metrics["auc"] and key in metrics["ams"] and metrics["limits"][key]["mu_expected"] > 0
    assert {"resolution_regressed", "resolution_visible"} <= set(metrics["regression"])
    parameterised = metrics["parameterised"]
    assert parameterised["mass_left_out"] == 400
    for key in ("auc_parameterised", "auc_dedicated", "auc_unparameterised"):
        assert parameterised[key] > 0.7, key
    heavy = metrics["heavy_limits"]
    assert set(heavy) == {"300", "400", "500"} and heavy["400"]["left_out"]
    for entry in heavy.values():
        assert entry["xsec_band_pb"] == sorted(entry["xsec_band_pb"]) and entry["xsec_band_pb"][0] > 0
    assert (finished_run / "results/higgs/plots/heavy_limits.png").stat().st_size > 10_000
    for table in ("heavy_limits", "regression/resolution", "parameterised/auc", "limits", "classifiers"):
        assert r"\begin{tabular}" in (finished_run / f"results/higgs/{table}.tex").read_text(), table


def test_higgsml_key_must_name_a_higgsml_input(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    override = write_override(workdir, "wrong.yaml", {"higgs": {"higgsml": "higgs_ztautau"}})
    result = run_snakemake(workdir, "-n", "--configfile", "config/test.yaml", override, check=False)
    assert result.returncode != 0
    assert "config key 'higgs.higgsml': 'higgs_ztautau' is not an `inputs` sample with `set: higgsml`" in result.stdout


def test_summary_tables_equal_the_task_metrics(finished_run):
    import csv

    higgs = json.loads((finished_run / "results/higgs/metrics.json").read_text())
    toptag = json.loads((finished_run / "results/toptag/metrics.json").read_text())
    summary = (finished_run / "results/summary/summary.md").read_text()
    assert "## Higgs" in summary and "## Top tagging" in summary
    assert f"{higgs['auc']['bdt']:.3f} ± {higgs['auc_err']['bdt']:.3f}" in summary
    assert f"{toptag['taggers']['particlenet']['auc']:.4f}" in summary
    with open(finished_run / "results/summary/limits.csv") as stream:
        rows = list(csv.DictReader(stream))
    mu = {r["analysis"]: float(r["expected"]) for r in rows if r["unit"] == ""}
    assert mu["H(125)→ττ, DNN (torch)"] == pytest.approx(higgs["limits"]["dnn"]["mu_expected"])
    heavy = [r for r in rows if r["unit"] == "pb"]
    assert len(heavy) == len(higgs["heavy_limits"])
    assert (finished_run / "results/summary/overview.png").stat().st_size > 20_000


def test_provenance_of_the_run(finished_run):
    record = json.loads((finished_run / "results/provenance.json").read_text())
    config = load_config(finished_run / "config" / "test.yaml")
    assert record["seed"] == config["seed"] and record["config"]["toptag"] == config["toptag"]
    assert record["training"]["toptag/models/particlenet"]["device"] == "cpu"
    assert record["training"]["higgs/models/dnn"]["seed"] > 0
    assert record["rule_times"]["generate_sample"]["jobs"] == 17  # the shards of test_dry_run_of_the_whole_workflow
    assert record["packages"]["pythia8mc"] == "8.317.2"


def test_changing_one_task_section_reruns_that_task_and_the_summary_only(finished_run):
    override = write_override(finished_run, "toptag_bootstrap.yaml", {"toptag": {"bootstrap": 11}})
    result = run_snakemake(finished_run, "-n", "--configfile", "config/test.yaml", override)
    assert {rule for rule, _ in planned_jobs(result.stdout)} == {"toptag_evaluate", "combine", "provenance", "all"}
