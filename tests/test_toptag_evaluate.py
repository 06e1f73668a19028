from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ml4hep.io import json_safe
from ml4hep.models.scores import write_scores
from ml4hep.toptag.evaluate import best_threshold, evaluate_taggers, write_tables


def test_best_threshold_respects_ties():
    labels = np.array([0, 0, 1, 1])
    assert best_threshold(labels, np.array([-1.0, -1.0, -1.0, 2.0])) == 2.0
    assert best_threshold(np.array([0, 1]), np.array([0.2, 0.8])) == 0.8
    # All background: predicting nothing as signal is best.
    assert best_threshold(np.array([0, 0]), np.array([0.3, 0.7])) > 0.7


@pytest.fixture
def fake_run(tmp_path):
    rng = np.random.default_rng(0)
    paths = {}
    for split, n in (("val", 400), ("test", 600)):
        labels = (rng.uniform(size=n) < 0.4).astype(int)
        np.savez(tmp_path / f"{split}.npz", label=labels)
        paths[split] = labels
    scores, infos = {}, {}
    for name, separation in (("good", 3.0), ("random", 0.0)):
        for split in ("val", "test"):
            paths[f"{name}_{split}"] = rng.normal(paths[split] * separation, 1.0)
        write_scores(
            tmp_path / f"{name}.root",
            {split: {"label": paths[split]} for split in ("val", "test")},
            {split: paths[f"{name}_{split}"] for split in ("val", "test")},
        )
        (tmp_path / f"{name}.json").write_text(json.dumps({"parameters": 10, "device": "cpu", "seconds": 1.0}))
        scores[name], infos[name] = tmp_path / f"{name}.root", tmp_path / f"{name}.json"
    return tmp_path, scores, infos


def test_metrics_and_tables(fake_run):
    folder, scores, infos = fake_run
    metrics = evaluate_taggers(folder / "test.npz", folder / "val.npz", scores, infos, 30, 1)
    good, random = metrics["taggers"]["good"], metrics["taggers"]["random"]
    assert good["auc"] > 0.95 and abs(random["auc"] - 0.5) < 3 * random["auc_err"] + 0.02
    # 3-sigma separation: no one of the ~360 background jets passes at eps_S = 0.3 or 0.5 (an infinity, not null)
    assert good["r30"] == math.inf and good["r50"] == math.inf
    assert json.loads(json.dumps(json_safe(good), allow_nan=False))["r30"] == "inf"
    assert random["r30"] == pytest.approx(1 / 0.3, rel=0.35)
    write_tables(metrics, folder / "t.csv", folder / "t.md", folder / "t.tex")
    rows = (folder / "t.csv").read_text().splitlines()
    assert rows[0].startswith("tagger,auc,auc_err")
    assert float(rows[2].split(",")[1]) == random["auc"]
    assert f"{good['auc']:.4f}" in (folder / "t.md").read_text()
