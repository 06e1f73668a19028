"""Columnar preprocessing of top-tagging jets: constituent features, jet images, substructure, splits.

Constituent features (per jet, the leading ``max_constituents`` constituents, zero-padded, with a mask), in this
column order (:data:`CONSTITUENT_FEATURES`): Δη and Δφ to the jet axis (after the optional rotation and flip),
log pT, log E, log(pT/pT_jet), log(E/E_jet), ΔR, and z = pT / Σ pT (the sum over all constituents of the jet).

Jet images: ``pixels`` × ``pixels`` in (Δη, Δφ) ∈ [-half_width, half_width]², each pixel the summed z of the
constituents falling in it (pT-weighted and normalised per jet).

Rotation and flip (``rotate: true``): the (Δη, Δφ) plane is rotated so that the pT-weighted principal axis is
vertical, then flipped so that the pT-weighted mean of each coordinate is positive; a standard image preprocessing
that removes symmetries the network would otherwise have to learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ml4hep.errors import EmptySampleError, InputFileError
from ml4hep.io import read_sample
from ml4hep.splitting import split_indices

CONSTITUENT_FEATURES = ("deta", "dphi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "delta_r", "z")
JET_BRANCHES = ("jet_pt", "jet_eta", "jet_phi", "jet_mass", "is_signal_new", "part_E", "part_px", "part_py",
                "part_pz")
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
    px, py, pz, e = jets.part_px, jets.part_py, jets.part_pz, jets.part_E
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
    phi = np.arctan2(py, px)
    deta = eta - jets.jet_eta
    dphi = (phi - jets.jet_phi + np.pi) % (2 * np.pi) - np.pi
    return {"pt": pt, "e": e, "deta": deta, "dphi": dphi}


def _rotate_and_flip(deta: ak.Array, dphi: ak.Array, pt: ak.Array) -> tuple[ak.Array, ak.Array]:
    """Rotate the principal axis of the pT-weighted (Δη, Δφ) distribution to the vertical, then flip."""
    w = pt / ak.sum(pt, axis=1)
    mean_x, mean_y = ak.sum(w * deta, axis=1), ak.sum(w * dphi, axis=1)
    dx, dy = deta - mean_x, dphi - mean_y
    sxx, syy, sxy = ak.sum(w * dx * dx, axis=1), ak.sum(w * dy * dy, axis=1), ak.sum(w * dx * dy, axis=1)
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)  # angle of the principal axis
    angle = np.pi / 2 - theta
    cos, sin = np.cos(angle), np.sin(angle)
    x = cos * deta - sin * dphi
    y = sin * deta + cos * dphi
    x = x * np.where(ak.sum(w * x, axis=1) < 0, -1.0, 1.0)
    y = y * np.where(ak.sum(w * y, axis=1) < 0, -1.0, 1.0)
    return x, y


def _padded(values: ak.Array, size: int) -> np.ndarray:
    return ak.to_numpy(ak.fill_none(ak.pad_none(values, size, axis=1, clip=True), 0.0)).astype(np.float32)


def constituent_arrays(
    jets: ak.Array, max_constituents: int, *, rotate: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Padded constituent features and mask.

    Args:
        jets: Jets from :func:`load_jets`.
        max_constituents: Slots per jet (leading constituents kept).
        rotate: Apply the rotation and flip.

    Returns:
        (x of shape (jets, max_constituents, 8), mask of shape (jets, max_constituents)).
    """
    kin = _constituent_kinematics(jets)
    pt, e, deta, dphi = kin["pt"], kin["e"], kin["deta"], kin["dphi"]
    if rotate:
        deta, dphi = _rotate_and_flip(deta, dphi, pt)
    jet_e = ak.sum(e, axis=1)
    safe_pt, safe_e = np.maximum(pt, 1e-6), np.maximum(e, 1e-6)
    columns = {
        "deta": deta,
        "dphi": dphi,
        "log_pt": np.log(safe_pt),
        "log_e": np.log(safe_e),
        "log_pt_rel": np.log(safe_pt / jets.jet_pt),
        "log_e_rel": np.log(safe_e / jet_e),
        "delta_r": np.hypot(deta, dphi),
        "z": pt / ak.sum(pt, axis=1),
    }
    x = np.stack([_padded(columns[name], max_constituents) for name in CONSTITUENT_FEATURES], axis=-1)
    mask = _padded(ak.ones_like(pt), max_constituents)
    return x, mask


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
            raise InputFileError(source, f"feature '{name}' has {int(bad.sum())} NaN/infinite value(s) in "
                                         f"{int(bad.reshape(len(array), -1).any(axis=1).sum())} jet(s)")


def build_features(
    samples: Mapping[str, Sequence[str]],
    options: Mapping[str, Any],
    seed: int,
    outputs: Mapping[str, str | Path],
) -> dict[str, int]:
    """Preprocess all jets and write one ``.npz`` per split (plain arrays, read with ``allow_pickle=False``).

    Args:
        samples: Sample name -> ROOT files.
        options: The ``toptag`` config section (max_constituents, image, rotate, split, predefined_split: when set,
            split name -> sample names, e.g. the TopLandscape train/val/test files, instead of a random split).
        seed: Seed of the split.
        outputs: Split name -> output file.

    Returns:
        Jets per split.
    """
    from ml4hep.toptag.substructure import FEATURE_NAMES, substructure_features

    jets = load_jets(samples)
    source = ", ".join(p for paths in samples.values() for p in paths)
    x, mask = constituent_arrays(jets, int(options["max_constituents"]), rotate=bool(options["rotate"]))
    images = jet_images(jets, int(options["image"]["pixels"]), float(options["image"]["half_width"]),
                        rotate=bool(options["rotate"]))
    sub = substructure_features(jets.part_E, jets.part_px, jets.part_py, jets.part_pz,
                                jet_r=float(options["jet_r"]))
    substructure = np.stack([sub[name] for name in FEATURE_NAMES], axis=1)
    check_finite({"constituents": x, "images": images, "substructure": substructure}, source)
    labels = ak.to_numpy(jets.is_signal_new).astype(np.int64)
    predefined = options.get("predefined_split")
    if predefined:
        sample_of_jet = np.asarray(list(samples))[ak.to_numpy(jets.sample_index)]
        indices = {split: np.flatnonzero(np.isin(sample_of_jet, predefined[split])) for split in SPLITS}
    else:
        indices = split_indices(labels, dict(options["split"]), seed)
    counts = {}
    for split, index in indices.items():
        Path(outputs[split]).parent.mkdir(parents=True, exist_ok=True)
        np.savez(outputs[split], x=x[index], mask=mask[index], images=images[index],
                 substructure=substructure[index], substructure_names=np.array(FEATURE_NAMES),
                 label=labels[index], weight=ak.to_numpy(jets.weight)[index],
                 sample=ak.to_numpy(jets.sample_index)[index], shard=ak.to_numpy(jets.shard)[index],
                 entry=ak.to_numpy(jets.entry)[index],
                 jet_pt=ak.to_numpy(jets.jet_pt)[index], jet_mass=ak.to_numpy(jets.jet_mass)[index])
        counts[split] = len(index)
    return counts


def load_split(path: str | Path) -> dict[str, np.ndarray]:
    """Read one split written by :func:`build_features` (no pickles)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
