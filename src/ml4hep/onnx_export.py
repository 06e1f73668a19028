"""ONNX export of the torch models and a check that onnxruntime reproduces them.

The export uses the legacy TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``), which needs no
``onnxscript``; its deprecation and tracer warnings are silenced locally. The first axis of every input and of
the output is dynamic (any batch size). The output is ``logit`` (a classifier) unless the export names another
(the Higgs mass regression's ``mass_gev``), and string metadata (the model name, the task, the feature names) can
be stored in the graph's ``metadata_props``, where onnxruntime reads them back (:func:`onnx_metadata`), so that a
graph says what it is without its file name.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

OPSET = 17
"""ONNX opset of the export."""
OUTPUT_NAME = "logit"
"""Name of the (single) output of the exported classifier graphs."""


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the warnings the legacy exporter emits on every call (deprecation, tracer, ONNX checker notes)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx.*")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.onnx.*")
        warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=r".*feature will be removed.*")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r".*[Cc]onstant folding.*")
        yield


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def export_onnx(
    model: nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    path: str | Path,
    input_names: Sequence[str],
    *,
    opset: int = OPSET,
    output_name: str = OUTPUT_NAME,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Export ``model`` (in eval mode) to ONNX with a dynamic batch axis.

    The model's training/eval mode is restored afterwards.

    Args:
        model: Module called as ``model(*example_inputs)``.
        example_inputs: Inputs used for tracing (any batch size; best more than 1 example).
        path: Output ``.onnx`` file (parent directories are created).
        input_names: One name per input (the names of the ONNX graph inputs).
        opset: ONNX opset version.
        output_name: Name of the graph's output.
        metadata: Strings stored in the graph's ``metadata_props`` (read back by :func:`onnx_metadata`).

    Returns:
        The path written.

    Raises:
        ValueError: ``input_names`` does not match ``example_inputs``.
    """
    if len(input_names) != len(example_inputs):
        raise ValueError(f"{len(input_names)} input names for {len(example_inputs)} inputs")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    device = _model_device(model)
    args = tuple(torch.as_tensor(t).float().to(device) for t in example_inputs)
    dynamic_axes = {name: {0: "batch"} for name in (*input_names, output_name)}
    was_training = model.training
    model.eval()
    try:
        with _quiet_export(), torch.no_grad():
            torch.onnx.export(
                model,
                args,
                str(path),
                input_names=list(input_names),
                output_names=[output_name],
                dynamic_axes=dynamic_axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
    finally:
        model.train(was_training)
    if metadata:
        _add_metadata(path, metadata)
    log.info("exported %s to %s (opset %d)", type(model).__name__, path, opset)
    return path


def _add_metadata(path: Path, metadata: Mapping[str, str]) -> None:
    import onnx

    graph = onnx.load(str(path))
    for key, value in metadata.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = str(key), str(value)
    onnx.save(graph, str(path))


def onnx_metadata(session: onnxruntime.InferenceSession) -> dict[str, str]:
    """The string metadata an export stored in the graph (empty for a graph exported without)."""
    return dict(session.get_modelmeta().custom_metadata_map)


def _session(path: str | Path) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_predict(path: str | Path, inputs: Mapping[str, np.ndarray], *, batch_size: int | None = 4096) -> np.ndarray:
    """Run an exported model with onnxruntime on the CPU.

    Args:
        path: The ``.onnx`` file.
        inputs: Graph input name -> array (cast to float32); all share the first (batch) axis.
        batch_size: Examples per run (None: all at once).

    Returns:
        The first output (one value per example for the tagger models).
    """
    session = _session(path)
    feeds = {name: np.ascontiguousarray(np.asarray(value, dtype=np.float32)) for name, value in inputs.items()}
    n = len(next(iter(feeds.values()))) if feeds else 0
    step = n if batch_size is None or n == 0 else int(batch_size)
    outputs = [
        session.run(None, {name: value[i : i + step] for name, value in feeds.items()})[0]
        for i in range(0, max(n, 1), max(step, 1))
    ]
    return np.concatenate(outputs) if len(outputs) > 1 else outputs[0]


@torch.no_grad()
def _torch_predict(model: nn.Module, inputs: tuple[torch.Tensor, ...], batch_size: int) -> np.ndarray:
    device = _model_device(model)
    tensors = [torch.as_tensor(t).float() for t in inputs]
    n = len(tensors[0])
    chunks = [
        model(*[t[i : i + batch_size].to(device) for t in tensors]).float().cpu() for i in range(0, n, batch_size)
    ]
    return (torch.cat(chunks) if chunks else torch.zeros(0)).numpy()


def check_onnx_matches(
    model: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    path: str | Path,
    input_names: Sequence[str],
    atol: float = 1e-4,
    *,
    example_inputs: tuple[torch.Tensor, ...] | None = None,
    batch_size: int = 1024,
    output_name: str = OUTPUT_NAME,
    metadata: Mapping[str, str] | None = None,
) -> float:
    """Export ``model`` to ``path`` and compare onnxruntime's outputs on ``inputs`` with torch's (eval mode).

    Args:
        model: The module (put in eval mode for the comparison; its mode is restored afterwards).
        inputs: Inputs of the comparison.
        path: Where the ONNX file is written.
        input_names: Graph input names, one per input.
        atol: Largest tolerated absolute difference.
        example_inputs: Inputs for the export trace (default: the first two examples of ``inputs``, so that the
            comparison also exercises the dynamic batch axis).
        batch_size: Examples per forward pass in both runtimes.
        output_name: Name of the graph's output.
        metadata: Strings stored in the graph (:func:`export_onnx`).

    Returns:
        The largest absolute difference between the torch and onnxruntime outputs.

    Raises:
        RuntimeError: The difference exceeds ``atol`` (or the outputs differ in shape or are not finite).
    """
    inputs = tuple(torch.as_tensor(t).float() for t in inputs)
    if example_inputs is None:
        example_inputs = tuple(t[: min(len(t), 2)] for t in inputs)
    export_onnx(model, example_inputs, path, input_names, output_name=output_name, metadata=metadata)
    was_training = model.training
    model.eval()
    try:
        expected = _torch_predict(model, inputs, batch_size)
    finally:
        model.train(was_training)
    got = onnx_predict(
        path, {name: t.numpy() for name, t in zip(input_names, inputs, strict=True)}, batch_size=batch_size
    )
    if got.shape != expected.shape:
        raise RuntimeError(f"ONNX output shape {got.shape} differs from torch's {expected.shape} ({path})")
    if got.size == 0:
        return 0.0
    difference = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64))))
    if not np.isfinite(difference) or difference > atol:
        raise RuntimeError(f"ONNX export {path} differs from torch by up to {difference:.3g} (atol {atol:.3g})")
    log.info("ONNX check of %s: max |torch - onnxruntime| = %.3g", path, difference)
    return difference
