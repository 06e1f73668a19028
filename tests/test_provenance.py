import json
import subprocess

import numpy as np

from ml4hep.config import config_hash
from ml4hep.provenance import collect_provenance, job_times, rule_times

from .conftest import ROOT


def write_benchmark(path, seconds):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\tmax_vms\n{seconds}\t0:00:01\t123.4\t500.0\n")


def test_provenance_records_config_commit_versions_devices_and_times(tmp_path):
    bench = tmp_path / "benchmarks"
    write_benchmark(bench / "higgs" / "train_bdt.tsv", 2.5)
    write_benchmark(bench / "generate_sample" / "higgs_ztautau" / "0.tsv", 10.0)
    write_benchmark(bench / "generate_sample" / "higgs_ztautau" / "1.tsv", 12.0)
    write_benchmark(bench / "susy" / "label_0.tsv", 1.0)
    write_benchmark(bench / "susy" / "label_1.tsv", 2.0)
    write_benchmark(bench / "pdf" / "replica_fit0_1.tsv", 1.5)
    write_benchmark(bench / "pdf" / "data_HERA_NC_318GEV_EP-SIGMARED.tsv", 0.5)
    info = tmp_path / "results" / "higgs" / "models" / "bdt_info.json"
    info.parent.mkdir(parents=True)
    info.write_text(json.dumps({"device": "cpu", "seed": 42}))
    replica = tmp_path / "results" / "pdf" / "replicas" / "fit0" / "replica3.npz"
    replica.parent.mkdir(parents=True)
    np.savez(replica, device=np.asarray("cpu"), seed=np.asarray(99), values=np.zeros(3))
    config = {"seed": 7, "device": "cpu"}
    record = collect_provenance(config, ROOT, [info, replica], bench)
    assert record["config"] == config and record["config_hash"] == config_hash(config) and record["seed"] == 7
    expected = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if expected.returncode == 0:  # a git checkout (CI, a clone): the commit must be recorded
        assert record["git"]["commit"] == expected.stdout.strip()
        assert isinstance(record["git"]["dirty"], bool)
    else:
        assert record["git"] == {"commit": None, "dirty": None}
    assert record["packages"]["torch"] and record["packages"]["snakemake"]
    assert record["training"] == {
        "higgs/models/bdt": {"device": "cpu", "seed": 42},
        "pdf/replicas/fit0/replica3": {"device": "cpu", "seed": 99},
    }
    assert record["job_times"]["higgs/train_bdt"] == {"seconds": 2.5, "max_rss_mb": 123.4}
    assert record["rule_times"]["generate_sample"] == {"jobs": 2, "seconds": 22.0}
    assert list(record["rule_times"])[0] == "generate_sample", "slowest rule first"
    assert record["rule_times"]["susy/label"] == {"jobs": 2, "seconds": 3.0}
    assert record["rule_times"]["pdf/replica_fit"] == {"jobs": 1, "seconds": 1.5}
    assert "pdf/data_HERA_NC_318GEV_EP-SIGMARED" in record["rule_times"]
    json.dumps(record, allow_nan=False)


def test_job_times_skip_empty_benchmarks(tmp_path):
    (tmp_path / "empty.tsv").write_text("s\th:m:s\n")
    assert job_times(tmp_path) == {} and rule_times({}) == {}


def test_outside_a_git_tree_the_commit_is_none(tmp_path):
    from ml4hep.provenance import git_state

    assert git_state(tmp_path) == {"commit": None, "dirty": None}
