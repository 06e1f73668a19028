from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from ml4hep.errors import EmptySampleError, InputFileError
from ml4hep.splitting import split_indices
from ml4hep.toptag.preprocess import (
    CONSTITUENT_FEATURES,
    check_finite,
    constituent_arrays,
    jet_images,
    load_jets,
)


def toy_jets():
    """Two jets along phi = 0, eta = 0: three and one constituents (massless, pz = 0 so eta = 0)."""
    pt = [[300.0, 200.0, 100.0], [500.0]]
    phi = [[0.0, 0.1, -0.2], [0.0]]
    px = [[p * np.cos(f) for p, f in zip(a, b, strict=True)] for a, b in zip(pt, phi, strict=True)]
    py = [[p * np.sin(f) for p, f in zip(a, b, strict=True)] for a, b in zip(pt, phi, strict=True)]
    return ak.zip(
        {
            "jet_pt": [600.0, 500.0],
            "jet_eta": [0.0, 0.0],
            "jet_phi": [0.0, 0.0],
            "jet_mass": [50.0, 0.0],
            "is_signal_new": [1, 0],
            "part_E": pt,
            "part_px": px,
            "part_py": py,
            "part_pz": [[0.0, 0.0, 0.0], [0.0]],
        },
        depth_limit=1,
    )


def test_constituent_features_and_padding():
    x, mask = constituent_arrays(toy_jets(), 4)
    assert x.shape == (2, 4, len(CONSTITUENT_FEATURES)) and mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]
    col = {name: i for i, name in enumerate(CONSTITUENT_FEATURES)}
    np.testing.assert_allclose(x[0, :3, col["dphi"]], [0.0, 0.1, -0.2], atol=1e-6)
    np.testing.assert_allclose(x[0, :3, col["z"]], [0.5, 1 / 3, 1 / 6], rtol=1e-6)
    np.testing.assert_allclose(x[0, :3, col["log_pt"]], np.log([300, 200, 100]), rtol=1e-6)
    assert np.all(x[0, 3] == 0) and np.all(x[1, 1:] == 0)
    x2, _ = constituent_arrays(toy_jets(), 2)
    # z is normalised over the kept constituents (what a network sees), not over the whole jet
    np.testing.assert_allclose(x2[0, :, col["z"]], [0.6, 0.4], rtol=1e-6)


def test_rotation_keeps_distances_and_aligns_the_principal_axis():
    x, _ = constituent_arrays(toy_jets(), 3)
    xr, _ = constituent_arrays(toy_jets(), 3, rotate=True)
    points = x[0, :, :2].astype(float)
    rotated = xr[0, :, :2].astype(float)
    pairwise = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(rotated[:, None] - rotated[None], axis=-1), pairwise, atol=1e-6)
    assert np.all(np.isfinite(xr))
    # All constituents lie along phi: after the rotation the spread is vertical (along the second coordinate).
    assert np.std(rotated[:, 0]) < 1e-3 and np.std(rotated[:, 1]) > 0.05


def test_jet_images_hold_the_pt_fractions():
    images = jet_images(toy_jets(), pixels=8, half_width=0.8)
    assert images.shape == (2, 1, 8, 8)
    np.testing.assert_allclose(images.sum(axis=(1, 2, 3)), [1.0, 1.0], rtol=1e-6)
    assert images[1, 0].max() == pytest.approx(1.0)
    narrow = jet_images(toy_jets(), pixels=8, half_width=0.15)
    assert narrow[0].sum() == pytest.approx(5 / 6, rel=1e-6), "the constituent at dphi = -0.2 falls outside"


def test_split_is_stratified_disjoint_and_seeded():
    labels = np.r_[np.ones(300), np.zeros(700)].astype(int)
    splits = split_indices(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=5)
    allidx = np.concatenate(list(splits.values()))
    assert len(allidx) == 1000 and len(np.unique(allidx)) == 1000
    assert [len(v) for v in splits.values()] == [600, 200, 200]
    assert labels[splits["test"]].mean() == pytest.approx(0.3)
    again = split_indices(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=5)
    assert all(np.array_equal(splits[k], again[k]) for k in splits)
    other = split_indices(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=6)
    assert not np.array_equal(splits["test"], other["test"])


def test_nan_features_are_named():
    bad = np.zeros((5, 3))
    bad[2, 1] = np.nan
    with pytest.raises(InputFileError, match=r"a\.root: feature 'substructure' has 1 NaN/infinite value\(s\) in 1 jet"):
        check_finite({"images": np.zeros((5, 2)), "substructure": bad}, "a.root")


def test_one_class_only_is_an_error(tiny_samples):
    with pytest.raises(EmptySampleError, match="needs both top"):
        load_jets({"toptag_qcd": [str(tiny_samples["toptag_qcd"])]})


def test_predefined_split_takes_jets_from_their_samples(tiny_samples, tmp_path):
    from ml4hep.config import validate_config
    from ml4hep.toptag.preprocess import build_features, load_split

    both = [str(tiny_samples["toptag_ttbar"]), str(tiny_samples["toptag_qcd"])]
    options = validate_config({"toptag": {"max_constituents": 8, "image": {"pixels": 8}}})["toptag"]
    options["predefined_split"] = {"train": ["a", "b"], "val": ["c"], "test": ["c"]}
    outputs = {split: tmp_path / f"{split}.root" for split in ("train", "val", "test")}
    counts = build_features({"a": both, "b": both, "c": both}, options, 1, outputs, chunk_size=150)
    assert counts["train"] == 2 * counts["val"] == 2 * counts["test"]
    np.testing.assert_array_equal(load_split(outputs["val"])["jet_pt"], load_split(outputs["test"])["jet_pt"])
    assert set(load_split(outputs["train"])["sample"].tolist()) == {0, 1}
    assert set(load_split(outputs["test"])["sample"].tolist()) == {2}
