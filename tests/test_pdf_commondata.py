"""PDF task: commondata loading, DIS cuts and the experimental covariance."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from ml4hep.errors import ConfigError
from ml4hep.pdf.commondata import (
    Dataset,
    commondata_root,
    covariance,
    kinematic_cuts,
    load_cached,
    load_dataset,
    save_dataset,
    systematics,
)

BCDMS = "BCDMS_NC_NOTFIXED_P_EM-F2"


@pytest.fixture(scope="module")
def bcdms() -> Dataset:
    return load_dataset(BCDMS)


def test_covariance_equals_hand_built_from_the_yaml_files(bcdms):
    """C_ij = stat_i^2 delta_ij + sum over correlated sources s_i s_j, read straight from the commondata YAML."""
    folder = commondata_root() / "BCDMS_NC_NOTFIXED_P"
    with open(folder / "uncertainties_legacy_EM-F2.yaml") as stream:
        uncertainties = yaml.safe_load(stream)
    points = [0, 1, 5, 40]
    bins = [uncertainties["bins"][i] for i in points]
    kinds = {name: d["type"] for name, d in uncertainties["definitions"].items() if name != "stat"}
    hand = np.zeros((len(points), len(points)))
    for a, bin_a in enumerate(bins):
        for b, bin_b in enumerate(bins):
            if a == b:
                hand[a, b] += bin_a["stat"] ** 2
            for name, kind in kinds.items():
                if kind in ("UNCORR", "THEORYUNCORR"):
                    hand[a, b] += bin_a[name] ** 2 if a == b else 0.0
                elif kind != "SKIP":
                    hand[a, b] += bin_a[name] * bin_b[name]
    ours = covariance([bcdms.select(np.array(points))])
    np.testing.assert_allclose(ours, hand, rtol=1e-10, atol=1e-14)


def test_mult_uncertainties_follow_the_reference_values(bcdms):
    subset = bcdms.select(np.arange(5))
    corr_data, _ = systematics(subset)
    corr_double, _ = systematics(subset, 2 * subset.central)
    # ADD columns come first and do not move; the MULT ones double with the reference values
    n_add = subset.add.shape[1]
    np.testing.assert_allclose(corr_double[:, :n_add], corr_data[:, :n_add])
    np.testing.assert_allclose(corr_double[:, n_add:], 2 * corr_data[:, n_add:])


def _toy(name: str, sources: list[str], n: int = 3, shift: float = 0.0) -> Dataset:
    rng = np.random.default_rng(len(name))
    return Dataset(
        name=name,
        x=np.full(n, 0.1),
        q2=np.full(n, 10.0),
        y=np.zeros(n),
        central=np.ones(n) + shift,
        stat=np.full(n, 0.01),
        add=rng.uniform(0.01, 0.02, (n, len(sources))),
        add_names=np.array(sources),
        mult=np.zeros((n, 0)),
        mult_names=np.array([], dtype=str),
        index=np.arange(n),
    )


def test_uncorrelated_sources_are_diagonal_and_named_sources_correlate_datasets():
    one = _toy("A_X", ["UNCORR", "CORR", "NORM"])
    two = _toy("B_X", ["CORR", "NORM"])
    cov = covariance([one, two])
    # within A: UNCORR only on the diagonal
    expected_a = (
        np.diag(one.stat**2 + one.add[:, 0] ** 2)
        + np.outer(one.add[:, 1], one.add[:, 1])
        + np.outer(one.add[:, 2], one.add[:, 2])
    )
    np.testing.assert_allclose(cov[:3, :3], expected_a)
    # across A and B: only the shared named source NORM; the per-dataset CORR sources do not correlate them
    np.testing.assert_allclose(cov[:3, 3:], np.outer(one.add[:, 2], two.add[:, 1]))
    np.testing.assert_allclose(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_dis_cuts_and_cache_roundtrip(bcdms, tmp_path):
    mask = kinematic_cuts(bcdms, 3.49, 12.5)
    assert mask.sum() == 337  # 351 points, 337 after Q^2 > 3.49 and W^2 > 12.5 (NNPDF's cuts)
    w2 = bcdms.q2 * (1 - bcdms.x) / bcdms.x + 0.938**2
    assert np.all(w2[mask] > 12.5)
    restored = load_cached(save_dataset(bcdms, tmp_path / "b.npz"))
    np.testing.assert_array_equal(restored.central, bcdms.central)
    np.testing.assert_array_equal(restored.mult_names, bcdms.mult_names)
    np.testing.assert_allclose(covariance([restored]), covariance([bcdms]))


def test_unknown_dataset_is_a_config_error():
    with pytest.raises(ConfigError, match="BCDMS_NC_NOTFIXD_P"):
        load_dataset("BCDMS_NC_NOTFIXD_P_EM-F2")
