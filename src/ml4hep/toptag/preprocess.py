"""Columnar preprocessing of top-tagging jets: constituent features, jet images, substructure, splits.

Constituent features (per jet, the leading ``max_constituents`` constituents, zero-padded, with a mask), in this
column order (:data:`CONSTITUENT_FEATURES`): Δη and Δφ to the jet axis (after the optional rotation and flip),
log pT, log E, log(pT/pT_jet), log(E/E_jet), ΔR, and z = pT / Σ pT, the sum over the constituents kept (the leading
``max_constituents``, what a network sees), so that z sums to 1 over the mask: the EFN's weighted sum then depends
on the kept constituents only (with a sum over all of them, constituents beyond the cut would change it). The
rotation below is also that of the kept constituents; the jet axis, energy and pT are the whole jet's.

Jet images: ``pixels`` × ``pixels`` in (Δη, Δφ) ∈ [-half_width, half_width]², each pixel the summed z of the
constituents falling in it (pT-weighted and normalised per jet).

Rotation and flip (``rotate: true``): the (Δη, Δφ) plane is rotated so that the pT-weighted principal axis (of the
kept constituents; of all of them for the images) is vertical, then flipped so that the pT-weighted mean of each
coordinate is positive; a standard image preprocessing that removes symmetries the network would otherwise have to
learn.

The workflow builds the features in two steps, neither of which holds more than a few chunks of jets:
:func:`shard_features` (one job per sample shard: read, compute and write ``chunk_size`` jets at a time) and
:func:`split_features` (each shard's events assigned to train/val/test by a seed of (seed, sample, shard), the jets
of an event together, written chunk by chunk). The files are chunked ROOT trees (:mod:`ml4hep.chunked`, where the
choice of format is explained); :func:`load_split` opens a split for column-wise or chunked reads.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from ml4hep.chunked import DEFAULT_CHUNK_SIZE, ROW, ChunkedSplit, ChunkedWriter
from ml4hep.errors import EmptySampleError, InputFileError
from ml4hep.io import read_sample, read_tree
from ml4hep.splitting import shard_seed, split_groups
from ml4hep.toptag.trees import TREE_COLUMNS, clustering_trees, feature_tree_algorithm

CONSTITUENT_FEATURES = ("deta", "dphi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "delta_r", "z")
JET_BRANCHES = ("jet_pt", "jet_eta", "jet_phi", "jet_mass", "is_signal_new", "part_E", "part_px", "part_py", "part_pz")
EVENT_BRANCH = "event"
"""Optional branch of a sample: the jet's event number in its shard (files without it have one jet per event)."""
SPLITS = ("train", "val", "test")


def load_jets(samples: Mapping[str, Sequence[str]]) -> ak.Array:
    """Read and concatenate the jets of all samples (labels from ``is_signal_new``).

    Args:
        samples: Sample name -> ROOT files.

    Returns:
        Jets with the fields of :data:`JET_BRANCHES`, ``weight`` (1) and ``sample_index`` (position of the jet's
        sample in ``samples``).

    Raises:
        EmptySampleError: no jets, or only one class.
    """
    parts = []
    for number, (name, paths) in enumerate(samples.items()):
        jets = read_sample(paths, JET_BRANCHES, name=name, origin=True)
        jets = ak.with_field(jets, np.ones(len(jets)), "weight")
        parts.append(ak.with_field(jets, np.full(len(jets), number), "sample_index"))
    jets = ak.concatenate(parts) if len(parts) > 1 else parts[0]
    labels = np.unique(ak.to_numpy(jets.is_signal_new))
    if set(labels.tolist()) != {0, 1}:
        files = ", ".join(p for paths in samples.values() for p in paths)
        raise EmptySampleError(files, f"top-tagging needs both top (1) and QCD (0) jets; labels found: {labels}")
    return jets


def _constituent_kinematics(jets: ak.Array) -> dict[str, ak.Array]:
    return _kinematics(jets, jets.part_px, jets.part_py, jets.part_pz, jets.part_E)


def _kinematics(jets: ak.Array, px: ak.Array, py: ak.Array, pz: ak.Array, e: ak.Array) -> dict[str, ak.Array]:
    """pT, E, Δη and Δφ to the jet axis of some four-momenta of each jet (its constituents, or tree nodes)."""
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
    phi = np.arctan2(py, px)
    deta = eta - jets.jet_eta
    dphi = (phi - jets.jet_phi + np.pi) % (2 * np.pi) - np.pi
    return {"pt": pt, "e": e, "deta": deta, "dphi": dphi}


def _rotate_and_flip(deta: ak.Array, dphi: ak.Array, pt: ak.Array) -> tuple[ak.Array, ak.Array]:
    """Rotate the principal axis of the pT-weighted (Δη, Δφ) distribution to the vertical, then flip."""
    return _in_frame(deta, dphi, _jet_frame(deta, dphi, pt))


def _jet_frame(deta: ak.Array, dphi: ak.Array, pt: ak.Array) -> tuple[np.ndarray, ...]:
    """Per jet cos and sin of the rotation and the two flip signs of :func:`_rotate_and_flip`."""
    w = pt / ak.sum(pt, axis=1)
    mean_x, mean_y = ak.sum(w * deta, axis=1), ak.sum(w * dphi, axis=1)
    dx, dy = deta - mean_x, dphi - mean_y
    sxx, syy, sxy = ak.sum(w * dx * dx, axis=1), ak.sum(w * dy * dy, axis=1), ak.sum(w * dx * dy, axis=1)
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)  # angle of the principal axis
    angle = np.pi / 2 - theta
    cos, sin = np.cos(angle), np.sin(angle)
    x, y = _in_frame(deta, dphi, (cos, sin, 1.0, 1.0))
    return cos, sin, np.where(ak.sum(w * x, axis=1) < 0, -1.0, 1.0), np.where(ak.sum(w * y, axis=1) < 0, -1.0, 1.0)


def _in_frame(deta: ak.Array, dphi: ak.Array, frame: tuple[Any, ...]) -> tuple[ak.Array, ak.Array]:
    """(Δη, Δφ) rotated and flipped into a jet frame of :func:`_jet_frame`."""
    cos, sin, flip_x, flip_y = frame
    return flip_x * (cos * deta - sin * dphi), flip_y * (sin * deta + cos * dphi)


def _padded(values: ak.Array, size: int) -> np.ndarray:
    return ak.to_numpy(ak.fill_none(ak.pad_none(values, size, axis=1, clip=True), 0.0)).astype(np.float32)


def constituent_arrays(jets: ak.Array, max_constituents: int, *, rotate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Padded constituent features and mask.

    Args:
        jets: Jets from :func:`load_jets`.
        max_constituents: Slots per jet (leading constituents kept).
        rotate: Apply the rotation and flip.

    Returns:
        (x of shape (jets, max_constituents, 8), mask of shape (jets, max_constituents)).
    """
    kin = _constituent_kinematics(jets)
    columns = _feature_columns(jets, kin, kin, max_constituents, rotate=rotate)
    x = np.stack([_padded(columns[name], max_constituents) for name in CONSTITUENT_FEATURES], axis=-1)
    mask = _padded(ak.ones_like(kin["pt"]), max_constituents)
    return x, mask


def node_features(
    jets: ak.Array,
    px: ak.Array,
    py: ak.Array,
    pz: ak.Array,
    e: ak.Array,
    size: int,
    *,
    rotate: bool = False,
    max_constituents: int | None = None,
) -> np.ndarray:
    """The constituent features of other four-momenta of each jet (e.g. the merged nodes of its clustering tree).

    The jet frame (rotation and flip, jet energy, Σ pT of the leading ``max_constituents``) is that of the jet's
    constituents, so that a constituent passed here gets its row of :func:`constituent_arrays`.

    Args:
        jets: Jets from :func:`load_jets`.
        px: The momenta, jagged (one list per jet).
        py: y momenta.
        pz: z momenta.
        e: Energies.
        size: Rows per jet (zero-padded or clipped).
        rotate: Apply the constituents' rotation and flip.
        max_constituents: The constituent slots of :func:`constituent_arrays` (z is normalised over them; None:
            over every constituent).

    Returns:
        Features of shape (jets, size, 8) in the columns of :data:`CONSTITUENT_FEATURES`.
    """
    kin, constituents = _kinematics(jets, px, py, pz, e), _constituent_kinematics(jets)
    columns = _feature_columns(jets, kin, constituents, max_constituents, rotate=rotate)
    return np.stack([_padded(columns[name], size) for name in CONSTITUENT_FEATURES], axis=-1)


def _feature_columns(
    jets: ak.Array,
    kin: Mapping[str, ak.Array],
    constituents: Mapping[str, ak.Array],
    max_constituents: int | None,
    *,
    rotate: bool,
) -> dict[str, ak.Array]:
    """The :data:`CONSTITUENT_FEATURES` of the momenta ``kin`` in the frame of the jet's ``constituents``.

    z and the rotation are those of the leading ``max_constituents`` constituents (the ones kept in the padded
    arrays), so that the features of the kept constituents do not depend on those cut away.
    """
    pt, e, deta, dphi = kin["pt"], kin["e"], kin["deta"], kin["dphi"]
    kept = slice(None, max_constituents)
    if rotate:
        # The frame of the kept constituents too: what lies beyond the cut would otherwise turn the kept ones.
        frame = _jet_frame(constituents["deta"][:, kept], constituents["dphi"][:, kept], constituents["pt"][:, kept])
        deta, dphi = _in_frame(deta, dphi, frame)
    jet_e = ak.sum(constituents["e"], axis=1)
    safe_pt, safe_e = np.maximum(pt, 1e-6), np.maximum(e, 1e-6)
    return {
        "deta": deta,
        "dphi": dphi,
        "log_pt": np.log(safe_pt),
        "log_e": np.log(safe_e),
        "log_pt_rel": np.log(safe_pt / jets.jet_pt),
        "log_e_rel": np.log(safe_e / jet_e),
        "delta_r": np.hypot(deta, dphi),
        "z": pt / ak.sum(constituents["pt"][:, kept], axis=1),
    }


def jet_images(jets: ak.Array, pixels: int = 40, half_width: float = 0.8, *, rotate: bool = False) -> np.ndarray:
    """pT-weighted jet images, shape (jets, 1, pixels, pixels), each summing to the pT fraction inside the image.

    Args:
        jets: Jets from :func:`load_jets`.
        pixels: Pixels per side.
        half_width: The image covers [-half_width, half_width] in Δη and Δφ.
        rotate: Apply the rotation and flip.
    """
    kin = _constituent_kinematics(jets)
    deta, dphi, pt = kin["deta"], kin["dphi"], kin["pt"]
    if rotate:
        deta, dphi = _rotate_and_flip(deta, dphi, pt)
    z = ak.to_numpy(ak.flatten(pt / ak.sum(pt, axis=1)))
    jet_index = np.repeat(np.arange(len(jets)), ak.to_numpy(ak.num(pt)))
    ix = np.floor((ak.to_numpy(ak.flatten(deta)) + half_width) / (2 * half_width) * pixels).astype(np.int64)
    iy = np.floor((ak.to_numpy(ak.flatten(dphi)) + half_width) / (2 * half_width) * pixels).astype(np.int64)
    inside = (ix >= 0) & (ix < pixels) & (iy >= 0) & (iy < pixels)
    flat = (jet_index * pixels + ix) * pixels + iy
    counts = np.bincount(flat[inside], weights=z[inside], minlength=len(jets) * pixels * pixels)
    return counts.reshape(len(jets), 1, pixels, pixels).astype(np.float32)


def check_finite(arrays: Mapping[str, np.ndarray], source: str) -> None:
    """Raise :class:`InputFileError` naming the first array with NaN or infinite values and how many."""
    for name, array in arrays.items():
        bad = ~np.isfinite(array)
        if bad.any():
            raise InputFileError(
                source,
                f"feature '{name}' has {int(bad.sum())} NaN/infinite value(s) in "
                f"{int(bad.reshape(len(array), -1).any(axis=1).sum())} jet(s)",
            )


FEATURE_COLUMNS = (
    "x",
    "mask",
    "images",
    "substructure",
    "label",
    "weight",
    "jet_pt",
    "jet_mass",
    "shard",
    "entry",
    "event",
)
"""Columns of a shard's feature file (``event``: the sample's ``event`` branch, or ``entry`` when it has none); a
split file adds ``sample`` (position of the jet's sample in ``samples``)."""


def tree_arrays(jets: ak.Array, options: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The feature-file columns of the clustering trees of some jets (none when no tagger reads them).

    Args:
        jets: Jets with the fields of :data:`JET_BRANCHES`.
        options: The ``toptag`` feature options (``max_constituents``, ``rotate`` and the tree algorithm,
            :func:`feature_tree_algorithm`).

    Returns:
        ``tree_x`` (jets, N-1, 8) float32, ``tree_children`` (jets, N-1, 2) and ``tree_level`` (jets, N-1) int32, or
        an empty mapping.
    """
    algorithm = feature_tree_algorithm(options)
    if algorithm is None:
        return {}
    n_slots = int(options["max_constituents"])
    seed = int(options.get("tree_seed", 0))  # only the random trees draw (ml4hep.toptag.trees.feature_tree_options)
    trees = clustering_trees(jets.part_px, jets.part_py, jets.part_pz, jets.part_E, n_slots, algorithm, seed)
    real = trees["tree_children"][..., 0] >= 0
    counts = real.sum(axis=1)
    four = [ak.unflatten(trees["four"][..., i][real], counts) for i in range(4)]
    return {
        "tree_x": node_features(
            jets, *four, n_slots - 1, rotate=bool(options["rotate"]), max_constituents=n_slots
        ).astype(np.float32),
        "tree_children": trees["tree_children"].astype(np.int32),
        "tree_level": trees["tree_level"].astype(np.int32),
    }


def jet_features(jets: ak.Array, options: Mapping[str, Any], source: str) -> dict[str, np.ndarray]:
    """Every feature column of some jets (constituents, image, substructure, label, kinematics).

    Args:
        jets: Jets with the fields of :data:`JET_BRANCHES`.
        options: The ``toptag`` config section (max_constituents, rotate, jet_r, image; tree_algorithm or the
            taggers and models that decide it).
        source: File named in the error of a NaN feature.

    Returns:
        The columns of :data:`FEATURE_COLUMNS` but ``shard``, ``entry`` and ``event``, and the clustering trees'
        (:data:`ml4hep.toptag.trees.TREE_COLUMNS`) when a tagger reads them
        (:func:`ml4hep.toptag.trees.feature_tree_algorithm`).
    """
    from ml4hep.toptag.substructure import FEATURE_NAMES, substructure_features

    x, mask = constituent_arrays(jets, int(options["max_constituents"]), rotate=bool(options["rotate"]))
    images = jet_images(
        jets, int(options["image"]["pixels"]), float(options["image"]["half_width"]), rotate=bool(options["rotate"])
    )
    sub = substructure_features(jets.part_E, jets.part_px, jets.part_py, jets.part_pz, jet_r=float(options["jet_r"]))
    substructure = np.stack([sub[name] for name in FEATURE_NAMES], axis=1).astype(np.float64)
    check_finite({"constituents": x, "images": images, "substructure": substructure}, source)
    trees = tree_arrays(jets, options)
    check_finite({name: array for name, array in trees.items() if name == "tree_x"}, source)
    return {
        **trees,
        "x": x,
        "mask": mask,
        "images": images,
        "substructure": substructure.reshape(len(x), len(FEATURE_NAMES)),
        "label": ak.to_numpy(jets.is_signal_new).astype(np.int64),
        "weight": np.ones(len(x)),
        "jet_pt": ak.to_numpy(jets.jet_pt).astype(np.float64),
        "jet_mass": ak.to_numpy(jets.jet_mass).astype(np.float64),
    }


def _empty_jets() -> ak.Array:
    """Zero jets with the fields of :data:`JET_BRANCHES` (for the branch types of an empty shard)."""
    jagged = ak.Array([[0.0]])[:0]
    return ak.zip({name: jagged if name.startswith("part_") else np.zeros(0) for name in JET_BRANCHES}, depth_limit=1)


def shard_features(
    path: str | Path, shard: int, options: Mapping[str, Any], output: str | Path, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Features of the jets of one sample shard, read and written ``chunk_size`` jets at a time.

    Args:
        path: The shard (a sample's ROOT file with an ``events`` tree).
        shard: Its position in the sample's files (the ``shard`` origin column).
        options: The ``toptag`` config section.
        output: The shard's feature file (:class:`ml4hep.chunked.ChunkedWriter` format).
        chunk_size: Jets per read and per basket.

    Returns:
        Jets written.

    Raises:
        InputFileError: The shard is unreadable or lacks a branch, or a feature is NaN.
    """
    from ml4hep.toptag.substructure import FEATURE_NAMES

    read_tree(path, JET_BRANCHES[:1], allow_empty=True)  # the checks of every reader: a clear message
    template = {
        **jet_features(_empty_jets(), options, str(path)),
        "shard": np.zeros(0, np.int64),
        "entry": np.zeros(0, np.int64),
        EVENT_BRANCH: np.zeros(0, np.int64),
    }
    with (
        ChunkedWriter(
            output,
            chunk_size,
            metadata={
                "substructure_names": ",".join(FEATURE_NAMES),
                "tree_algorithm": feature_tree_algorithm(options) or "",
            },
            template=template,
        ) as writer,
        uproot.open(path, array_cache=None) as file,
    ):
        start = 0
        tree = file["events"]
        # Files without event numbers (converted TopLandscape, a user's jets) hold one jet per event.
        has_events = EVENT_BRANCH in tree.keys()
        branches = [*JET_BRANCHES, EVENT_BRANCH] if has_events else list(JET_BRANCHES)
        for jets in tree.iterate(branches, step_size=int(chunk_size), library="ak"):
            n = len(jets)
            entry = np.arange(start, start + n, dtype=np.int64)
            writer.add(
                {
                    **jet_features(jets, options, str(path)),
                    "shard": np.full(n, int(shard), np.int64),
                    "entry": entry,
                    EVENT_BRANCH: ak.to_numpy(jets[EVENT_BRANCH]).astype(np.int64) if has_events else entry,
                }
            )
            start += n
    return writer.n_rows


def assign_splits(
    labels: np.ndarray,
    sample: str,
    shard: int,
    options: Mapping[str, Any],
    seed: int,
    events: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Which jets of one shard go to each split (split name -> boolean mask over the shard's jets).

    With ``predefined_split`` every jet goes to its sample's split(s); otherwise the shard's events are split with
    the configured fractions, stratified by label, by a seed of (seed, sample, shard): the jets of one event share
    its split (a tagger is not tested on the partner of a jet it was trained on), the split of an event depends on
    its shard alone, so that shards are split independently and reproducibly, and the three splits are disjoint
    and cover every jet.

    Args:
        labels: Label of each jet of the shard.
        sample: Sample name.
        shard: Shard number.
        options: The ``split`` and ``predefined_split`` options.
        seed: Seed of the split.
        events: Event number of each jet (None: one jet per event).
    """
    predefined = options.get("predefined_split")
    if predefined:
        return {name: np.full(len(labels), sample in predefined[name]) for name in SPLITS}
    masks = {name: np.zeros(len(labels), dtype=bool) for name in SPLITS}
    if len(labels) == 0:
        return masks
    groups = np.arange(len(labels)) if events is None else events
    for name, index in split_groups(labels, groups, dict(options["split"]), shard_seed(seed, sample, shard)).items():
        masks[name][index] = True
    return masks


def split_features(
    shards: Mapping[str, Sequence[str | Path]],
    options: Mapping[str, Any],
    seed: int,
    outputs: Mapping[str, str | Path],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, int]:
    """Assign the jets of every shard's feature file to train/val/test and write the three split files.

    Shards are read one at a time and chunk by chunk (``chunk_size`` jets), so memory does not grow with the
    number of jets; rows keep the order of the samples, their shards and entries.

    Args:
        shards: Sample name -> its shards' feature files (:func:`shard_features`), in shard order.
        options: The ``toptag`` config section (split, predefined_split).
        seed: Seed of the split.
        outputs: Split name -> output file.
        chunk_size: Jets per read and per basket.

    Returns:
        Jets per split.

    Raises:
        EmptySampleError: No jets, or only one class.
    """
    first = ChunkedSplit(next(iter(shards.values()))[0])
    columns = (*FEATURE_COLUMNS, *(column for column in TREE_COLUMNS if column in first.columns))
    template = {
        **{column: first.read([column], 0, 0)[column] for column in columns},
        "sample": np.zeros(0, np.int64),
    }
    metadata = {name: ",".join(first[name]) for name in ("substructure_names", "tree_algorithm") if name in first}
    labels_seen: set[int] = set()
    with contextlib.ExitStack() as stack:
        writers = {
            name: stack.enter_context(ChunkedWriter(outputs[name], chunk_size, metadata=metadata, template=template))
            for name in SPLITS
        }
        for number, (sample, paths) in enumerate(shards.items()):
            for shard, path in enumerate(paths):
                source = ChunkedSplit(path, chunk_size)
                labels = source["label"]
                labels_seen.update(np.unique(labels).tolist())
                masks = assign_splits(labels, sample, shard, options, seed, source[EVENT_BRANCH])
                for chunk in source.chunks(columns):
                    rows = chunk.pop(ROW)
                    chunk["sample"] = np.full(len(rows), number, np.int64)
                    for name, writer in writers.items():
                        selected = masks[name][rows]
                        writer.add({column: array[selected] for column, array in chunk.items()})
                source.close()
        if labels_seen != {0, 1}:
            files = ", ".join(str(p) for paths in shards.values() for p in paths)
            raise EmptySampleError(
                files, f"top-tagging needs both top (1) and QCD (0) jets; labels found: {sorted(labels_seen)}"
            )
    return {name: writer.n_rows for name, writer in writers.items()}


def build_features(
    samples: Mapping[str, Sequence[str]],
    options: Mapping[str, Any],
    seed: int,
    outputs: Mapping[str, str | Path],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, int]:
    """:func:`shard_features` of every shard (in a temporary folder beside the outputs), then :func:`split_features`.

    The workflow runs the two steps as separate jobs (one per shard, then the split); this is the same in one call.

    Args:
        samples: Sample name -> ROOT files.
        options: The ``toptag`` config section.
        seed: Seed of the split.
        outputs: Split name -> output file.
        chunk_size: Jets per read and per basket.

    Returns:
        Jets per split.
    """
    folder = Path(outputs["train"]).parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        shards: dict[str, list[Path]] = {}
        for sample, paths in samples.items():
            shards[sample] = [Path(scratch) / sample / f"{shard}.root" for shard in range(len(paths))]
            for shard, (path, output) in enumerate(zip(paths, shards[sample], strict=True)):
                shard_features(path, shard, options, output, chunk_size)
        return split_features(shards, options, seed, outputs, chunk_size)


def load_split(path: str | Path, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ChunkedSplit | dict[str, np.ndarray]:
    """Open one split file written by :func:`split_features`, to be read column by column or chunk by chunk.

    A ``.npz`` file (the same columns as plain arrays, e.g. a small hand-made split) is read whole, without pickles.
    """
    if Path(path).suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    return ChunkedSplit(path, chunk_size)
