"""benchmarks/bench_scale.py: every stage has a function, and the Higgs training stages run on small split files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tests.test_higgs_classifiers import write_split_file
from tests.test_higgs_regression import synthetic_split

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_scale.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_scale", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_stage_has_a_function(bench):
    assert set(bench.STAGE_FUNCTIONS) == set(bench.STAGES)
    assert {"higgs_bdt", "higgs_regression_epoch"} <= set(bench.HIGGS_STAGES)


def test_the_higgs_bdt_stage_streams_the_split_files(bench, tmp_path, monkeypatch):
    """The stage on small split files (its regression sibling shares the code path of tests/test_higgs_streaming)."""
    monkeypatch.setattr(bench, "BDT_ROUNDS", 5)
    rng = np.random.default_rng(1)
    for split, n in (("train", 300), ("val", 120), ("test", 120)):
        write_split_file(tmp_path / "higgs" / f"{split}.root", synthetic_split(rng, n), 64)
    rows = bench.STAGE_FUNCTIONS["higgs_bdt"](tmp_path, {"chunk_size": 64, "quick": True})
    assert rows == 300 + 120 + 120
