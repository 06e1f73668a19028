"""The one model interface: registries, the train-and-score step, scores friend trees, checkpoints and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import uproot

from ml4hep.higgs.classifiers import CLASSIFIERS as HIGGS_MODELS
from ml4hep.models import FitContext, Model, Registry
from ml4hep.models.scores import read_scores
from ml4hep.models.step import train_and_score
from ml4hep.susy.classifiers import CLASSIFIERS as SUSY_MODELS
from ml4hep.toptag.preprocess import CONSTITUENT_FEATURES
from ml4hep.toptag.substructure import FEATURE_NAMES
from ml4hep.toptag.taggers import TAGGERS
from ml4hep.training import EarlyStopping, TrainingCheckpoint

from .conftest import ROOT


def test_registry_rejects_unknown_and_duplicate_names():
    registry = Registry("demo")

    @registry.register("one")
    class One:
        suffix = ".json"

    with pytest.raises(ValueError, match="unknown demo model 'two'; known: one"):
        registry.create("two")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("one")(One)


@pytest.mark.parametrize("registry", [TAGGERS, HIGGS_MODELS, SUSY_MODELS], ids=["toptag", "higgs", "susy"])
def test_every_registered_model_implements_the_protocol(registry):
    for name in registry:
        cls = registry.model_class(name)
        assert cls.name == name and cls.suffix in (".json", ".npz", ".pt")
        assert isinstance(cls(), Model), name
    assert set(registry.networks()) | set(registry.baselines()) == set(registry)


def test_early_stopping_keeps_the_best_admissible_weights():
    model = torch.nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2)
    values = [5.0, 3.0, 2.0, 4.0, 4.5]
    admissible = [True, True, False, True, True]  # the lowest value is not admissible (e.g. not positive)
    stops = []
    for epoch, (value, ok) in enumerate(zip(values, admissible, strict=True)):
        with torch.no_grad():
            model.weight.fill_(epoch)
        stops.append(stopper.update(epoch, value, model, ok))
    assert stops == [False, False, False, False, True]  # patience counts from epoch 2, the lowest of any epoch
    assert stopper.best_epoch == 1 and stopper.best_value == 3.0
    assert stopper.restore(model) and model.weight.item() == 1.0


def toptag_splits(rng: np.random.Generator, n: int = 240, particles: int = 8, pixels: int = 8) -> dict:
    """Synthetic top-tagging splits: signal jets have a larger soft-drop mass and a lower tau32."""
    out = {}
    chain = np.stack([np.r_[0, particles + np.arange(particles - 2)], np.arange(1, particles)], axis=1)
    for split in ("train", "val", "test"):
        label = rng.integers(0, 2, n)
        x = rng.normal(size=(n, particles, len(CONSTITUENT_FEATURES))).astype(np.float32) + label[:, None, None]
        # Momentum fractions are positive and sum to 1, as the preprocessing writes them (the EFN weights by them).
        x[..., CONSTITUENT_FEATURES.index("z")] = rng.dirichlet(np.ones(particles), size=n)
        substructure = rng.normal(size=(n, len(FEATURE_NAMES)))
        substructure[:, FEATURE_NAMES.index("sd_mass")] = np.where(
            label == 1, rng.normal(170, 15, n), rng.normal(60, 30, n)
        )
        substructure[:, FEATURE_NAMES.index("tau32")] = np.where(
            label == 1, rng.uniform(0.2, 0.6, n), rng.uniform(0.5, 1.0, n)
        )
        out[split] = {
            "x": x,
            "mask": np.ones((n, particles), np.float32),
            "images": rng.random((n, 1, pixels, pixels)).astype(np.float32) + label[:, None, None, None],
            "substructure": substructure,
            "substructure_names": np.array(FEATURE_NAMES),
            "label": label,
            "weight": np.ones(n),
            "sample": label,
            "shard": np.zeros(n, int),
            "entry": np.arange(n),
            # rnn_tree's clustering trees: a chain (merging k joins the previous node and particle k + 1)
            "tree_x": x[:, 1:] + x[:, :-1],
            "tree_children": np.broadcast_to(chain, (n, particles - 1, 2)).astype(np.int32),
            "tree_level": np.broadcast_to(np.arange(1, particles, dtype=np.int32), (n, particles - 1)).copy(),
        }
    return out


TOPTAG_HYPER = {
    "bdt": {"n_estimators": 30, "early_stopping_rounds": 5},
    "cnn": {"pixels": 8, "channels": [4], "dense": 8, "epochs": 3, "batch_size": 64},
    "pfn": {"phi_sizes": [8], "f_sizes": [8], "epochs": 3, "batch_size": 64},
    "efn": {"phi_sizes": [8], "f_sizes": [8], "epochs": 3, "batch_size": 64},
    "particlenet": {"k": 3, "channels": [[8]], "fc": 8, "epochs": 2, "batch_size": 64},
    "rnn_tree": {"embedding": 4, "fc_sizes": [4], "epochs": 2, "batch_size": 64},
    "part": {"embed_dims": [8], "pair_embed_dims": [4], "num_heads": 2, "num_layers": 1, "epochs": 2, "batch_size": 64},
}


@pytest.mark.parametrize("name", TAGGERS.names())
def test_every_tagger_trains_scores_saves_and_reloads(name, tmp_path):
    splits = toptag_splits(np.random.default_rng(1))
    cls = TAGGERS.model_class(name)
    paths = {
        "model_path": tmp_path / f"{name}{cls.suffix}",
        "scores_path": tmp_path / f"{name}.root",
        "info_path": tmp_path / f"{name}_info.json",
    }
    onnx = tmp_path / f"{name}.onnx" if TAGGERS.is_network(name) else None
    info = train_and_score(
        TAGGERS.create(name, TOPTAG_HYPER.get(name, {})),
        splits,
        FitContext(seed=2),
        **paths,
        onnx_path=onnx,
        samples=["qcd", "top"],
    )
    assert json.loads(paths["info_path"].read_text())["model"] == name
    with uproot.open(paths["scores_path"]) as file:
        tree = file["scores"]
        assert set(tree.keys()) == {"sample", "shard", "entry", "split", "label", "weight", "score"}
        assert tree.num_entries == 3 * 240
        assert str(file["samples"]) == "qcd,top"
        arrays = tree.arrays(library="np")
    test = arrays["split"] == 2
    np.testing.assert_array_equal(arrays["entry"][test], splits["test"]["entry"])
    np.testing.assert_array_equal(arrays["label"][test], splits["test"]["label"])
    reloaded = TAGGERS.load(name, paths["model_path"]).predict(splits["test"])
    np.testing.assert_array_equal(reloaded, read_scores(paths["scores_path"], "test"))
    if onnx is not None:
        assert info["onnx_max_abs_diff"] < 1e-4
    if name in ("cut", "bdt"):  # the separable toy is learnt
        from ml4hep.metrics import auc

        assert auc(splits["test"]["label"], reloaded) > 0.9


def test_a_missing_or_truncated_model_file_is_one_clear_error(tmp_path):
    from ml4hep.errors import InputFileError

    with pytest.raises(InputFileError, match="does not exist"):
        TAGGERS.load("pfn", tmp_path / "missing.pt")
    (tmp_path / "torn.pt").write_bytes(b"\x80\x02not a checkpoint")
    with pytest.raises(InputFileError, match="not a pfn model"):
        TAGGERS.load("pfn", tmp_path / "torn.pt")


RESUME_SCRIPT = textwrap.dedent("""
    import logging, os, signal, sys
    import numpy as np, torch
    from torch import nn
    from ml4hep.training import TrainingCheckpoint, fit, seed_everything

    logging.basicConfig(level=logging.INFO)
    checkpoint, output, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(np.float32)
    seed_everything(5)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1), nn.Flatten(0))

    def kill(epoch):
        if epoch == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    result = fit(model, [x[:200]], y[:200], [x[200:]], y[200:], epochs=8, batch_size=32, patience=8, seed=3,
                 checkpoint=TrainingCheckpoint(checkpoint, "fingerprint-1"), after_epoch=kill)
    torch.save({"state": model.state_dict(), "best_epoch": result.best_epoch,
                "resumed": -1 if result.resumed_from_epoch is None else result.resumed_from_epoch}, output)
""")


def run_training(tmp_path, checkpoint, output, kill_at=-1):
    script = tmp_path / "train.py"
    script.write_text(RESUME_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, str(script), str(checkpoint), str(output), str(kill_at)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_training_killed_with_sigkill_resumes_to_exactly_the_uninterrupted_weights(tmp_path):
    uninterrupted = run_training(tmp_path, tmp_path / "a.ckpt", tmp_path / "a.pt")
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    killed = run_training(tmp_path, tmp_path / "b.ckpt", tmp_path / "b.pt", kill_at=3)
    assert killed.returncode == -signal.SIGKILL and not (tmp_path / "b.pt").exists()
    resumed = run_training(tmp_path, tmp_path / "b.ckpt", tmp_path / "b.pt")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from epoch 3" in resumed.stderr
    a = torch.load(tmp_path / "a.pt", weights_only=True)
    b = torch.load(tmp_path / "b.pt", weights_only=True)
    assert a["resumed"] == -1 and b["resumed"] == 3 and a["best_epoch"] == b["best_epoch"]
    for key, value in a["state"].items():
        assert torch.equal(value, b["state"][key]), key


def test_a_checkpoint_of_another_training_is_not_resumed(tmp_path):
    checkpoint = TrainingCheckpoint(tmp_path / "c.ckpt", "one")
    checkpoint.save({"epoch": 4})
    assert checkpoint.load()["epoch"] == 4
    assert TrainingCheckpoint(tmp_path / "c.ckpt", "other").load() is None
    (tmp_path / "c.ckpt").write_bytes(b"torn")
    assert checkpoint.load() is None
    checkpoint.remove()
    assert not (tmp_path / "c.ckpt").exists()


@pytest.mark.parametrize(
    ("registry", "name"), [(SUSY_MODELS, "rf"), (SUSY_MODELS, "bdt"), (SUSY_MODELS, "mlp"), (TAGGERS, "cut")]
)
def test_a_truncated_model_file_is_one_clear_error(tmp_path, registry, name):
    from ml4hep.errors import InputFileError

    path = tmp_path / f"{name}{registry.model_class(name).suffix}"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InputFileError, match=rf"{path.name}: (not a readable susy|not a readable toptag|not a mlp)"):
        registry.load(name, path)


def test_tagger_hyper_merges_training_settings_and_a_model_learning_rate():
    from ml4hep.config import default_config
    from ml4hep.toptag.taggers import tagger_hyper

    toptag = default_config()["toptag"]
    assert tagger_hyper(toptag, "pfn")["learning_rate"] == toptag["training"]["learning_rate"]  # null: shared
    toptag["models"]["pfn"]["learning_rate"] = 0.01
    assert tagger_hyper(toptag, "pfn")["learning_rate"] == 0.01
    assert tagger_hyper(toptag, "cnn")["pixels"] == toptag["image"]["pixels"]
    assert tagger_hyper(toptag, "bdt") == toptag["bdt"] and tagger_hyper(toptag, "cut") == {}
