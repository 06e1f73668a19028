"""``ml4hep predict``: score a file with a trained top tagger or Higgs classifier, outside the workflow.

The input is a ROOT file in the project's sample schema (TTree ``events``: a generated or imported top-tagging or
Higgs sample, or a converted HiggsML file), a TopLandscape HDF5 file or a HiggsML CSV (both read through
:mod:`ml4hep.convert`, as the workflow imports them). The features are the workflow's own
(:func:`ml4hep.toptag.preprocess.jet_features`, :func:`ml4hep.higgs.dataset.process_table` and
:func:`~ml4hep.higgs.dataset.higgsml_table`), built with the feature settings of the run that trained the model:
by default the resolved config in that run's ``results/provenance.json`` (found from the model's path
``results/{task}/models/{name}.*``), else a config given with ``--config``. The standardisation of the networks is
part of their graphs (a buffer of the ``state_dict``, a constant of the ONNX export).

The model is an exported ONNX graph (run with onnxruntime), an xgboost JSON file, a cut window (JSON) or a torch
``state_dict`` (``.pt``, read with ``weights_only=True``). What it is and which task it belongs to is read from the
file itself (graph inputs and output, number of xgboost features, window keys, checkpoint metadata), so a renamed
file still works and a model of the other task is refused in one line. The BDT with the regressed di-tau mass
(``bdt_mreg``, one feature more than the HiggsML features) is chained after the mass regression: by default the
ONNX export ``mass_regression.onnx`` beside the BDT (else ``mass_regression.pt``), or the file given as
``regressor``; the regressed mass of each event becomes the BDT's last feature, as in the workflow.

The input is read and scored chunk by chunk (``uproot`` iterations of the ``events`` tree; a HiggsML CSV or a
TopLandscape file is first converted chunk by chunk into a temporary ROOT file) and the scores are written chunk
by chunk, so the memory does not grow with the size of the input.

The scores are written as a ROOT friend tree in the workflow's layout (:mod:`ml4hep.models.scores`): TTree
``scores`` with ``sample``, ``shard``, ``entry`` (entry of the scored event in the input's ``events`` tree),
``split`` (:data:`PREDICTED_SPLIT`: the event belongs to no split of a training), ``label`` (from the file, or
``--label``, else -1), ``weight`` (the file's ``weight``, else 1) and ``score``; the sample name is stored beside
it as ``samples``. Higgs events that fail the lep-had selection get no score (as in the workflow).

Example:
    ``ml4hep predict --model results/toptag/models/pfn.onnx --input results/samples/toptag_ttbar/0.root
    --output pfn_scores.root``
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.errors import InputFileError
from ml4hep.io import EVENTS_TREE, check_output_path, write_root
from ml4hep.models.scores import SCORES_TREE

log = logging.getLogger(__name__)

PREDICTED_SPLIT = -1
"""``split`` of a scored event that is in no split of a training (the workflow's are 0, 1, 2)."""
NO_LABEL = -1
"""``label`` of an event whose file carries none (a generated Higgs sample: its label is its sample's role)."""
TASKS = ("toptag", "higgs")
INPUT_FORMATS = {".root": "root", ".h5": "toplandscape", ".hdf5": "toplandscape", ".csv": "higgsml"}
"""Input suffix -> format."""
CHUNK_SIZE = 4096
"""Jets per chunk of the top-tagging features (memory stays bounded for any input size)."""
HIGGS_CHUNK_SIZE = 100_000
"""Higgs events read per chunk (a few kB of branches per event: some 10-100 MB a chunk)."""
CHUNK_SIZES = {"toptag": CHUNK_SIZE, "higgs": HIGGS_CHUNK_SIZE}
"""Task -> default events per chunk."""
HIGGS_INPUTS = ("X",)
"""Graph inputs of the exported Higgs networks (the HiggsML features, -999 where undefined)."""
REGRESSOR_STEM = "mass_regression"
"""File stem of the di-tau mass regression beside the models (``mass_regression.onnx``, ``.pt``)."""


@dataclass
class LoadedModel:
    """A model file ready to score: its task, its name and what it reads.

    Attributes:
        path: The model file.
        task: ``toptag`` or ``higgs``.
        name: The registry name (``pfn``, ``bdt``, ...).
        kind: ``onnx``, ``xgboost``, ``cut`` or ``torch``.
        inputs: Feature columns the model reads.
        score: Scores of a mapping of feature columns.
        shapes: Per ONNX input, the fixed (non-batch) shape the graph expects.
    """

    path: Path
    task: str
    name: str
    kind: str
    inputs: tuple[str, ...]
    score: Callable[[Mapping[str, np.ndarray]], np.ndarray]
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _unreadable(path: Path, what: str, error: BaseException) -> InputFileError:
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return InputFileError(str(path), f"not a readable {what} ({first})")


def _onnx_session(path: Path) -> Any:
    from ml4hep.onnx_export import _session

    try:
        return _session(path)
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise _unreadable(path, "ONNX model", error) from None


def _sigmoid_scores(session: Any, names: tuple[str, ...]) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    def score(features: Mapping[str, np.ndarray]) -> np.ndarray:
        feeds = {name: np.ascontiguousarray(features[name], dtype=np.float32) for name in names}
        logits = session.run(None, feeds)[0].astype(np.float64).reshape(-1)
        return 1.0 / (1.0 + np.exp(-logits))  # the workflow's scores are sigmoid(logit)

    return score


def _check_higgs_graph(path: Path, session: Any) -> None:
    """Refuse a graph on ``X`` whose width is not the HiggsML features'."""
    from ml4hep.higgs.features import FEATURE_NAMES

    width = tuple(session.get_inputs()[0].shape[1:])
    if width != (len(FEATURE_NAMES),):
        raise InputFileError(
            str(path),
            f"ONNX input 'X' has shape {list(width)} per event, the Higgs networks read the "
            f"{len(FEATURE_NAMES)} HiggsML features",
        )


def _onnx_model(path: Path, regressor: Path | None = None) -> LoadedModel:
    from ml4hep.higgs.classifiers import CLASSIFIERS
    from ml4hep.higgs.regression import ONNX_OUTPUT as MASS_OUTPUT
    from ml4hep.onnx_export import OUTPUT_NAME, onnx_metadata
    from ml4hep.toptag.taggers import TAGGERS

    session = _onnx_session(path)
    names = tuple(node.name for node in session.get_inputs())
    outputs = tuple(node.name for node in session.get_outputs())
    shapes = {node.name: tuple(int(d) for d in node.shape[1:]) for node in session.get_inputs()}
    # the model the graph names in its metadata, else the file's name (graphs written before the metadata)
    candidates = (onnx_metadata(session).get("ml4hep_model", ""), path.stem)
    if names == HIGGS_INPUTS:
        _check_higgs_graph(path, session)
        if outputs == (MASS_OUTPUT,):
            raise InputFileError(
                str(path),
                "the di-tau mass regression is no classifier: predict runs it as the input of the BDT "
                "bdt_mreg (--model bdt_mreg.json, --regressor this file)",
            )
        if outputs != (OUTPUT_NAME,):
            raise InputFileError(str(path), f"ONNX graph on 'X' with outputs {list(outputs)}: not an ml4hep model")
        name = next((n for n in candidates if n in CLASSIFIERS.networks()), "dnn")
        return LoadedModel(path, "higgs", name, "onnx", names, _sigmoid_scores(session, names), shapes)
    if names not in {tuple(TAGGERS.model_class(tagger).inputs) for tagger in TAGGERS.networks()}:
        raise InputFileError(
            str(path), f"ONNX graph inputs {list(names)} are not those of an ml4hep top tagger or Higgs network"
        )
    name = next((n for n in candidates if n in TAGGERS.networks()), "cnn" if names == ("images",) else "network")
    return LoadedModel(path, "toptag", name, "onnx", names, _sigmoid_scores(session, names), shapes)


def _default_regressor(bdt_path: Path) -> Path:
    """The mass regression of the run of ``bdt_path``: its ONNX export beside the BDT, else its ``state_dict``."""
    candidates = [bdt_path.parent / f"{REGRESSOR_STEM}{suffix}" for suffix in (".onnx", ".pt")]
    found = next((candidate for candidate in candidates if candidate.is_file()), None)
    if found is None:
        raise InputFileError(
            str(bdt_path),
            f"the BDT with the regressed di-tau mass (bdt_mreg) needs the mass regression: no "
            f"{candidates[0].name} or {candidates[1].name} beside it (pass it with --regressor)",
        )
    return found


def load_regressor(path: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """The di-tau mass regression of a run as a function of the HiggsML feature matrix (GeV per event).

    Args:
        path: Its ONNX export (``mass_regression.onnx``, output ``mass_gev``) or its ``state_dict``
            (``mass_regression.pt``).

    Raises:
        InputFileError: The file is missing, unreadable or not the mass regression of ml4hep.
    """
    from ml4hep.higgs.regression import ONNX_OUTPUT as MASS_OUTPUT

    path = Path(path)
    if not path.is_file():
        raise InputFileError(str(path), "mass-regression file does not exist")
    if path.suffix.lower() == ".onnx":
        session = _onnx_session(path)
        inputs = tuple(node.name for node in session.get_inputs())
        outputs = tuple(node.name for node in session.get_outputs())
        if inputs != HIGGS_INPUTS or outputs != (MASS_OUTPUT,):
            raise InputFileError(
                str(path),
                f"ONNX graph {list(inputs)} -> {list(outputs)} is not the di-tau mass regression of "
                f"ml4hep ({list(HIGGS_INPUTS)} -> ['{MASS_OUTPUT}'])",
            )
        _check_higgs_graph(path, session)

        def regress(x: np.ndarray) -> np.ndarray:
            feeds = {HIGGS_INPUTS[0]: np.ascontiguousarray(x, dtype=np.float32)}
            return session.run(None, feeds)[0].astype(np.float64).reshape(-1)

        return regress
    if path.suffix.lower() == ".pt":
        model = _torch_regressor(path)
        return lambda x: model.predict({"X": np.asarray(x, dtype=np.float32)})
    raise InputFileError(str(path), f"unknown mass-regression format '{path.suffix}' (expected .onnx or .pt)")


def _torch_regressor(path: Path) -> Any:
    """The :class:`~ml4hep.higgs.regression.MassRegressor` of a ``.pt`` (its metadata must name it)."""
    import pickle  # only for its error type: the file is read with torch.load(weights_only=True)

    from ml4hep.higgs.regression import MassRegressor
    from ml4hep.training import load_checkpoint

    try:
        _, metadata = load_checkpoint(path)
    except (OSError, RuntimeError, KeyError, ValueError, EOFError, TypeError, pickle.UnpicklingError) as error:
        raise _unreadable(path, "torch model of ml4hep", error) from None
    name = str(metadata.get("model", "")) if isinstance(metadata, dict) else ""
    if name != MassRegressor.name:
        raise InputFileError(str(path), f"torch model '{name}' is not the {MassRegressor.name} of ml4hep")
    return MassRegressor.load(path)


def _regressed_mass_bdt(path: Path, regressor: Path | None) -> LoadedModel:
    """``bdt_mreg``: the mass regression's output appended to the features, then the BDT."""
    from ml4hep.higgs.classifiers import CLASSIFIERS

    booster = CLASSIFIERS.load("bdt_mreg", path)
    regressor_path = regressor if regressor is not None else _default_regressor(path)
    regress = load_regressor(regressor_path)
    log.info("bdt_mreg: regressed di-tau mass from %s", regressor_path)

    def score(features: Mapping[str, np.ndarray]) -> np.ndarray:
        x = np.asarray(features["X"])
        return booster.predict({"X": np.column_stack([x, regress(x)])})

    return LoadedModel(path, "higgs", "bdt_mreg", "xgboost", ("X",), score)


def _json_model(path: Path, regressor: Path | None = None) -> LoadedModel:
    from ml4hep.higgs.classifiers import CLASSIFIERS
    from ml4hep.higgs.features import FEATURE_NAMES as HIGGS_FEATURES
    from ml4hep.toptag.substructure import FEATURE_NAMES as SUBSTRUCTURE

    try:
        content = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _unreadable(path, "JSON model", error) from None
    if not isinstance(content, dict):
        raise InputFileError(str(path), "not an ml4hep model: the JSON is not an object")
    if {"low", "high", "val_r30"} <= content.keys():
        from ml4hep.toptag.taggers import TAGGERS

        window = TAGGERS.load("cut", path)
        return LoadedModel(path, "toptag", "cut", "cut", ("substructure",), window.predict)
    if {"low", "high", "val_ams"} <= content.keys():
        window = CLASSIFIERS.load("cut", path)
        return LoadedModel(path, "higgs", "cut", "cut", ("X",), window.predict)
    if "learner" not in content:
        raise InputFileError(str(path), "JSON is neither an xgboost model nor a cut window of ml4hep")
    n_features = int(content["learner"]["learner_model_param"]["num_feature"])
    if n_features == len(SUBSTRUCTURE):
        from ml4hep.toptag.taggers import TAGGERS

        booster = TAGGERS.load("bdt", path)
        return LoadedModel(path, "toptag", "bdt", "xgboost", ("substructure",), booster.predict)
    if n_features == len(HIGGS_FEATURES):
        booster = CLASSIFIERS.load("bdt", path)
        return LoadedModel(path, "higgs", "bdt", "xgboost", ("X",), booster.predict)
    if n_features == len(HIGGS_FEATURES) + 1:
        return _regressed_mass_bdt(path, regressor)
    raise InputFileError(
        str(path),
        f"xgboost model with {n_features} features: neither a top-tagging BDT ({len(SUBSTRUCTURE)} substructure "
        f"features) nor a Higgs BDT ({len(HIGGS_FEATURES)} HiggsML features)",
    )


def _torch_model(path: Path, regressor: Path | None = None) -> LoadedModel:
    import pickle  # only for its error type: the file is read with torch.load(weights_only=True)

    from ml4hep.higgs.classifiers import CLASSIFIERS
    from ml4hep.toptag.taggers import TAGGERS
    from ml4hep.training import load_checkpoint

    try:
        _, metadata = load_checkpoint(path)
    except (OSError, RuntimeError, KeyError, ValueError, EOFError, TypeError, pickle.UnpicklingError) as error:
        raise _unreadable(path, "torch model of ml4hep", error) from None
    name = str(metadata.get("model", "")) if isinstance(metadata, dict) else ""
    for task, registry in (("toptag", TAGGERS), ("higgs", CLASSIFIERS)):
        if name in registry and registry.is_network(name):
            model = registry.load(name, path)
            return LoadedModel(path, task, name, "torch", tuple(model.inputs), model.predict)
    what = f"torch model '{name}'" if name else "torch file (no model name in its metadata)"
    raise InputFileError(str(path), f"{what} is neither a top tagger nor a Higgs classifier")


MODEL_READERS: dict[str, Callable[[Path, Path | None], LoadedModel]] = {
    ".onnx": _onnx_model,
    ".json": _json_model,
    ".pt": _torch_model,
}
"""Model-file suffix -> reader (of the model file and the mass regression that ``bdt_mreg`` chains)."""


def load_model(path: str | Path, regressor: str | Path | None = None) -> LoadedModel:
    """Read a model file of a top tagger or a Higgs classifier and tell its task and name from its content.

    Args:
        path: The model file.
        regressor: For ``bdt_mreg``: the mass regression (default: the one beside the BDT, :func:`load_regressor`).

    Raises:
        InputFileError: The file is missing, of another format, or not a model of either task.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(str(path), "model file does not exist")
    reader = MODEL_READERS.get(path.suffix.lower())
    if reader is None:
        raise InputFileError(
            str(path), f"unknown model format '{path.suffix}' (expected {', '.join(MODEL_READERS)} of ml4hep)"
        )
    return reader(path, None if regressor is None else Path(regressor))


def run_config(model_path: str | Path, config: str | Path | None = None) -> dict[str, Any]:
    """The config whose feature settings built the model's training inputs.

    Args:
        model_path: The model file; its run's ``results/provenance.json`` is two folders up.
        config: A config file (YAML, merged over the default as the workflow merges it) or a ``provenance.json``;
            None: the run's provenance, else the default config.

    Raises:
        ConfigError: The config is invalid.
        InputFileError: A given provenance file is unreadable.
    """
    from ml4hep.config import DEFAULT_CONFIG_PATH, load_config

    if config is None:
        provenance = Path(model_path).resolve().parents[2] / "provenance.json"
        if provenance.is_file():
            config = provenance
        else:
            log.warning("no %s: the feature settings are the default config's", provenance)
            return load_config(DEFAULT_CONFIG_PATH, base=None)
    config = Path(config)
    if config.suffix == ".json":
        try:
            resolved = json.loads(config.read_text())["config"]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise _unreadable(config, "provenance.json with the run's config", error) from None
        log.info("feature settings from %s", config)
        return dict(resolved)
    log.info("feature settings from %s (merged over the default config)", config)
    return load_config(config)


def _input_format(path: Path) -> str:
    fmt = INPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputFileError(
            str(path), f"unknown input format '{path.suffix}' (ROOT .root, TopLandscape .h5/.hdf5, HiggsML .csv)"
        )
    return fmt


def _root_task(path: Path) -> str:
    """``toptag``, ``higgs`` (generated) or ``higgsml`` from the branches of a ROOT file's ``events`` tree."""
    import uproot

    from ml4hep.samples import REQUIRED_BRANCHES

    try:
        with uproot.open(path) as file:
            branches = set(file[EVENTS_TREE].keys())
    except uproot.KeyInFileError:
        raise InputFileError(str(path), f"no TTree '{EVENTS_TREE}': not a sample file of ml4hep") from None
    except Exception as error:  # noqa: BLE001 - uproot raises many types for bytes that are not ROOT
        raise _unreadable(path, "ROOT file", error) from None
    for sample_set in ("toptag", "higgsml", "higgs"):
        if set(REQUIRED_BRANCHES[sample_set]) <= branches:
            return sample_set
    missing = {s: sorted(set(REQUIRED_BRANCHES[s]) - branches) for s in REQUIRED_BRANCHES}
    closest = min(missing, key=lambda s: len(missing[s]))
    raise InputFileError(
        str(path),
        f"TTree '{EVENTS_TREE}' is in no sample schema of ml4hep (closest: '{closest}' samples, lacking "
        f"{', '.join(missing[closest][:6])})",
    )


def _origin(path: Path, sample: str | None, shard: int | None) -> tuple[str, int]:
    """Sample name and shard of an input: the workflow's ``{sample}/{shard}.root`` layout, else the file's stem."""
    stem_is_shard = path.stem.isdigit()
    return (
        sample if sample is not None else (path.parent.name if stem_is_shard else path.stem),
        shard if shard is not None else (int(path.stem) if stem_is_shard else 0),
    )


def _toptag_chunks(
    path: Path, options: Mapping[str, Any], chunk_size: int = CHUNK_SIZE
) -> Iterator[dict[str, np.ndarray]]:
    """The workflow's top-tagging features of the jets of ``path``, chunk by chunk, with entry and label."""
    import uproot

    from ml4hep.toptag.preprocess import JET_BRANCHES, jet_features
    from ml4hep.toptag.substructure import FEATURE_NAMES

    with uproot.open(path, array_cache=None) as file:
        start = 0
        for jets in file[EVENTS_TREE].iterate(list(JET_BRANCHES), step_size=int(chunk_size), library="ak"):
            features = jet_features(jets, options, str(path))
            features["substructure_names"] = np.array(FEATURE_NAMES)
            features["entry"] = np.arange(start, start + len(jets), dtype=np.int64)
            start += len(jets)
            yield features


def _higgs_branches(sample_set: str) -> list[str]:
    """Branches the Higgs features of a ``higgs`` (generated) or ``higgsml`` file are computed from."""
    from ml4hep.convert import HIGGSML_FEATURES
    from ml4hep.samples import REQUIRED_BRANCHES

    return [*HIGGSML_FEATURES, "weight", "label"] if sample_set == "higgsml" else list(REQUIRED_BRANCHES["higgs"])


def _higgs_table(events: Any, entry: np.ndarray, sample_set: str, jet_pt_min: float, source: str) -> dict:
    """The workflow's features of one chunk of events (:func:`ml4hep.higgs.dataset.process_table`'s, per chunk).

    Generated events pass the lep-had selection first (the others get no score); HiggsML rows are lep-had already.
    """
    import awkward as ak

    from ml4hep.higgs.features import (
        FEATURE_NAMES,
        check_features,
        features_from_higgsml,
        higgsml_features,
        select_lephad,
    )

    if sample_set == "higgsml":
        features = features_from_higgsml(events)
        labels = ak.to_numpy(events.label).astype(np.int64)
    else:  # a generated sample carries no label: its label is its sample's role in a config
        events = select_lephad(ak.with_field(events, entry, "entry"))
        entry = ak.to_numpy(events.entry)
        features = higgsml_features(events, jet_pt_min=jet_pt_min) if len(events) else {}
        labels = np.full(len(events), NO_LABEL, np.int64)
    check_features(features, source)
    n = len(entry)
    return {
        "X": np.stack([features[f] for f in FEATURE_NAMES], axis=1) if n else np.zeros((0, len(FEATURE_NAMES))),
        "label": labels,
        "weight": ak.to_numpy(events.weight).astype(np.float64),
        "entry": np.asarray(entry, np.int64),
        "feature_names": np.array(FEATURE_NAMES),
    }


def _higgs_chunks(
    path: Path, sample_set: str, options: Mapping[str, Any], chunk_size: int = HIGGS_CHUNK_SIZE
) -> Iterator[dict[str, np.ndarray]]:
    """The workflow's Higgs event table of ``path`` (selection and HiggsML features), ``chunk_size`` events a read.

    Raises:
        InputFileError: The ``events`` tree lacks a branch the features need.
    """
    import uproot

    branches = _higgs_branches(sample_set)
    with uproot.open(path, array_cache=None) as file:
        tree = file[EVENTS_TREE]
        missing = [branch for branch in branches if branch not in set(tree.keys())]
        if missing:
            raise InputFileError(
                str(path), f"TTree '{EVENTS_TREE}' lacks branch(es) {', '.join(missing)} of the '{sample_set}' schema"
            )
        start = 0
        for events in tree.iterate(branches, step_size=int(chunk_size), library="ak"):
            entry = np.arange(start, start + len(events), dtype=np.int64)
            start += len(events)
            yield _higgs_table(events, entry, sample_set, float(options["jet_pt_min"]), str(path))


def _check_shapes(model: LoadedModel, features: Mapping[str, np.ndarray], config_source: str) -> None:
    for name, shape in model.shapes.items():
        got = tuple(features[name].shape[1:])
        if got != shape:
            raise InputFileError(
                str(model.path),
                f"ONNX input '{name}' expects shape {list(shape)} per jet, the feature settings ({config_source}) "
                f"give {list(got)}: pass the training run's config with --config",
            )


def predict(
    model_path: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    *,
    config: str | Path | None = None,
    sample: str | None = None,
    shard: int | None = None,
    label: int | None = None,
    regressor: str | Path | None = None,
    chunk_size: int | None = None,
) -> dict[str, Any]:
    """Score every event of ``input_path`` with the model and write the scores friend tree, chunk by chunk.

    Args:
        model_path: ``.onnx``, xgboost ``.json``, cut-window ``.json`` or ``.pt`` of a top tagger or a Higgs
            classifier.
        input_path: ROOT file in the sample schema, TopLandscape ``.h5`` or HiggsML ``.csv``.
        output_path: The scores ROOT file (written atomically).
        config: Where the feature settings come from (:func:`run_config`).
        sample: Sample name stored beside the tree (default: from the input's path, :func:`_origin`).
        shard: ``shard`` column (default: from the input's path).
        label: ``label`` of every event (default: the file's labels; -1 for a generated Higgs sample).
        regressor: For ``bdt_mreg``: the mass regression (default: ``mass_regression.onnx`` beside the BDT).
        chunk_size: Events (jets) read and scored at a time (default :data:`CHUNK_SIZES` of the task); the scores
            do not depend on it.

    Returns:
        Summary: model, task, examples scored, seconds, examples per second (all, and of the model alone).

    Raises:
        InputFileError: A file is unreadable, of the wrong schema, or the model is of the other task.
    """
    import uproot

    from ml4hep import convert

    model_path, input_path = Path(model_path), Path(input_path)
    if not input_path.is_file():
        raise InputFileError(str(input_path), "input file does not exist")
    check_output_path(output_path, model_path, input_path)
    fmt = _input_format(input_path)
    model = load_model(model_path, regressor)
    settings = run_config(model_path, config)
    config_source = str(config) if config is not None else "the run's provenance.json"
    sample_name, shard_number = _origin(input_path, sample, shard)
    sample_set = _root_task(input_path) if fmt == "root" else {"toplandscape": "toptag"}.get(fmt, "higgsml")
    input_task = "toptag" if sample_set == "toptag" else "higgs"
    if input_task != model.task:
        raise InputFileError(
            str(input_path),
            f"holds {input_task} events ({sample_set} schema) but {model_path} is a {model.task} model "
            f"('{model.name}')",
        )
    chunk_size = int(chunk_size if chunk_size is not None else CHUNK_SIZES[input_task])
    if chunk_size < 1:
        raise InputFileError(str(input_path), f"chunk size must be positive, got {chunk_size}")
    start = time.perf_counter()  # the throughput counts reading, features, scoring and writing, not loading
    counts = {"examples": 0, "model_seconds": 0.0}

    def score_chunks(chunks: Iterator[dict[str, np.ndarray]]) -> Iterator[dict[str, np.ndarray]]:
        for features in chunks:
            _check_shapes(model, features, config_source)
            model_start = time.perf_counter()
            scores = model.score(features) if len(features["label"]) else np.zeros(0)
            counts["model_seconds"] += time.perf_counter() - model_start
            counts["examples"] += len(scores)
            yield _score_branches(features, scores, shard_number, label)

    with tempfile.TemporaryDirectory() as scratch:
        events_file = input_path
        if fmt == "toplandscape":  # read through the converter, as the workflow imports such a file
            events_file = Path(scratch) / "events.root"
            max_constituents = int(settings["samples"]["toptag"]["max_constituents"])
            convert.convert_toplandscape_hdf5(input_path, events_file, max_constituents=max_constituents)
        elif fmt == "higgsml":
            events_file = Path(scratch) / "events.root"
            convert.convert_higgsml_csv(input_path, events_file)
        with uproot.open(events_file) as file:
            if file[EVENTS_TREE].num_entries == 0:
                raise InputFileError(str(input_path), f"TTree '{EVENTS_TREE}' has no entries (nothing to score)")
        if input_task == "toptag":
            chunks = _toptag_chunks(events_file, settings["toptag"], chunk_size)
        else:
            chunks = _higgs_chunks(events_file, sample_set, settings["higgs"], chunk_size)
        write_root(output_path, {SCORES_TREE: score_chunks(chunks)})  # one basket per chunk: memory stays flat
    with uproot.update(output_path) as file:
        file["samples"] = sample_name
    seconds, n, model_seconds = time.perf_counter() - start, counts["examples"], counts["model_seconds"]
    return {
        "model": model.name,
        "task": model.task,
        "kind": model.kind,
        "input": str(input_path),
        "output": str(output_path),
        "examples": n,
        "seconds": seconds,
        "examples_per_second": n / seconds if seconds > 0 else float("nan"),
        "model_examples_per_second": n / model_seconds if model_seconds > 0 else float("nan"),
    }


def _score_branches(
    features: Mapping[str, np.ndarray], scores: np.ndarray, shard: int, label: int | None
) -> dict[str, np.ndarray]:
    """The scores-tree columns of one chunk (:mod:`ml4hep.models.scores` layout)."""
    n = len(scores)
    labels = features["label"] if label is None else np.full(n, label)
    return {
        "sample": np.zeros(n, np.int64),
        "shard": np.full(n, shard, np.int64),
        "entry": np.asarray(features["entry"], np.int64),
        "split": np.full(n, PREDICTED_SPLIT, np.int8),
        "label": np.asarray(labels, np.int32),
        "weight": np.asarray(features["weight"], np.float64) if "weight" in features else np.ones(n),
        "score": np.asarray(scores, np.float64),
    }


def format_summary(summary: Mapping[str, Any]) -> str:
    """One line: what was scored, where it went and the throughput."""
    return (
        f"{summary['task']} {summary['model']} ({summary['kind']}): {summary['examples']} examples of "
        f"{summary['input']} -> {summary['output']} in {summary['seconds']:.2f} s "
        f"({summary['examples_per_second']:.0f} examples/s; the model alone "
        f"{summary['model_examples_per_second']:.0f} examples/s)"
    )
