"""ONNX export of the top-tagging models: onnxruntime reproduces torch, with a dynamic batch axis."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ml4hep.onnx_export as onnx_export
from ml4hep.onnx_export import check_onnx_matches, export_onnx, onnx_predict
from ml4hep.toptag.models import build_model, model_input_kind

PIXELS = 16
SLOTS = 12


def model_inputs(name: str, batch: int, seed: int) -> tuple[tuple[torch.Tensor, ...], list[str]]:
    generator = torch.Generator().manual_seed(seed)
    if model_input_kind(name) == "image":
        return (torch.rand(batch, 1, PIXELS, PIXELS, generator=generator),), ["images"]
    counts = torch.randint(1, SLOTS + 1, (batch,), generator=generator)
    mask = (torch.arange(SLOTS)[None, :] < counts[:, None]).float()
    x = torch.randn(batch, SLOTS, 8, generator=generator)
    x[..., 7] = torch.rand(batch, SLOTS, generator=generator)
    return (x * mask[..., None], mask), ["x", "mask"]


def prepared_model(name: str) -> torch.nn.Module:
    """Default-size model in eval mode, with non-trivial batch-norm statistics."""
    torch.manual_seed(0)
    model = build_model(name, pixels=PIXELS) if name == "cnn" else build_model(name)
    inputs, _ = model_inputs(name, 16, seed=9)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(*inputs)
    return model.eval()


@pytest.mark.parametrize("name", ["pfn", "efn", "particlenet", "cnn"])
def test_onnx_matches_torch_on_another_batch_size(name, tmp_path):
    model = prepared_model(name)
    example, input_names = model_inputs(name, 3, seed=1)
    inputs, _ = model_inputs(name, 7, seed=2)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the export itself must not spam warnings
        difference = check_onnx_matches(model, inputs, path, input_names, atol=1e-4, example_inputs=example)
    assert path.is_file()
    assert 0.0 <= difference <= 1e-4
    got = onnx_predict(path, {n: t.numpy() for n, t in zip(input_names, inputs, strict=True)})
    assert got.shape == (7,)
    with torch.no_grad():
        np.testing.assert_allclose(got, model(*inputs).numpy(), atol=1e-4, rtol=0)


def test_export_restores_training_mode_and_batches(tmp_path):
    model = prepared_model("pfn").train()
    example, names = model_inputs("pfn", 4, seed=3)
    path = export_onnx(model, example, tmp_path / "sub" / "pfn.onnx", names)
    assert model.training and path.is_file()
    inputs, _ = model_inputs("pfn", 10, seed=4)
    feeds = {n: t.numpy() for n, t in zip(names, inputs, strict=True)}
    np.testing.assert_allclose(
        onnx_predict(path, feeds, batch_size=3), onnx_predict(path, feeds, batch_size=None), atol=1e-6, rtol=0
    )


def test_default_example_is_a_slice_of_the_inputs(tmp_path):
    model = prepared_model("efn").train()
    inputs, names = model_inputs("efn", 9, seed=5)
    difference = check_onnx_matches(model, inputs, tmp_path / "efn.onnx", names, batch_size=4)
    assert difference <= 1e-4
    assert model.training


def test_mismatch_raises(tmp_path, monkeypatch):
    model = prepared_model("cnn")
    inputs, names = model_inputs("cnn", 5, seed=6)
    real_predict = onnx_export.onnx_predict
    monkeypatch.setattr(onnx_export, "onnx_predict", lambda *a, **k: real_predict(*a, **k) + 1e-2)
    with pytest.raises(RuntimeError, match="differs from torch"):
        check_onnx_matches(model, inputs, tmp_path / "cnn.onnx", names, atol=1e-4)


def test_input_names_must_match(tmp_path):
    inputs, _ = model_inputs("pfn", 2, seed=7)
    with pytest.raises(ValueError, match="input names"):
        export_onnx(prepared_model("pfn"), inputs, tmp_path / "pfn.onnx", ["x"])
