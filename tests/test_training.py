from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ml4hep.errors import ConfigError
from ml4hep.training import balanced_weights, fit, load_checkpoint, predict, save_checkpoint, select_device


class Linear(nn.Module):
    def __init__(self, n_in: int, hidden: int = 0):
        super().__init__()
        self.net = (
            nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 1)) if hidden else nn.Linear(n_in, 1)
        )

    def forward(self, x):
        return self.net(x).squeeze(-1)


def test_device_selection_on_this_machine():
    assert select_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no GPU is visible"):
            select_device("cuda")


def test_balanced_weights_equalise_classes():
    labels = np.array([1, 0, 0, 0])
    w = balanced_weights(labels, np.array([1.0, 1.0, 2.0, 3.0]))
    assert w[labels == 1].sum() == pytest.approx(w[labels == 0].sum())
    assert w.mean() == pytest.approx(1.0)


def test_fit_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    torch.manual_seed(0)
    model = Linear(2)
    result = fit(model, [x[:400]], y[:400], [x[400:]], y[400:], epochs=40, learning_rate=0.05, patience=40)
    accuracy = np.mean((predict(model, [x[400:]]) > 0.5) == y[400:])
    assert accuracy > 0.95
    assert result.val_loss[result.best_epoch] == min(result.val_loss)


def test_early_stopping_keeps_the_best_validation_weights():
    # A big network on 30 noisy examples overfits: validation loss rises after a minimum.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(330, 20)).astype(np.float32)
    y = (rng.uniform(size=330) < 1 / (1 + np.exp(-x[:, 0]))).astype(np.float32)
    torch.manual_seed(1)
    model = Linear(20, hidden=256)
    result = fit(model, [x[:30]], y[:30], [x[30:]], y[30:], epochs=200, learning_rate=0.01, patience=15, batch_size=30)
    assert result.best_epoch < len(result.val_loss) - 1, "validation loss rose after its minimum"
    assert len(result.val_loss) - 1 - result.best_epoch == 15, "stopped after `patience` epochs without progress"
    final_val = torch.nn.functional.binary_cross_entropy(
        torch.as_tensor(predict(model, [x[30:]])), torch.as_tensor(y[30:], dtype=torch.float64)
    )
    assert float(final_val) == pytest.approx(result.best_val_loss, rel=1e-5)
    assert result.best_val_loss < result.val_loss[-1]


def test_checkpoint_round_trip_without_pickles(tmp_path):
    model = Linear(3)
    path = save_checkpoint(model, tmp_path / "m.pt", {"name": "linear", "epochs": 3})
    state, metadata = load_checkpoint(path)
    assert metadata == {"name": "linear", "epochs": 3}
    other = Linear(3)
    other.load_state_dict(state)
    x = np.ones((2, 3), np.float32)
    assert np.allclose(predict(model, [x]), predict(other, [x]))
    assert not list(tmp_path.glob(".*partial"))
