"""DIS data points and their experimental covariance from the ``nnpdf-data`` commondata files.

Only ``nnpdf-data`` is used (not ``nnpdf``/validphys, which pulls TensorFlow): the metadata of a dataset is parsed
with :func:`nnpdf_data.commondataparser.parse_new_metadata` and the tables with ``load_commondata``. A dataset is
named ``{setname}_{observable}``, e.g. ``BCDMS_NC_NOTFIXED_P_EM-F2``.

The covariance follows the commondata conventions: ADD uncertainties are absolute, MULT uncertainties are percentages
of a central value (the data, or t0 predictions for the t0 covariance); sources named UNCORR or THEORYUNCORR are
uncorrelated between points (diagonal), every other source (CORR, THEORYCORR and the named cross-dataset sources such
as BCDMSNORM or HC_sys*) is fully correlated (outer product); the statistical uncertainty is added on the diagonal.
SKIP sources are dropped.

Loading a large set (HERA) takes tens of seconds, so :func:`save_dataset` caches the arrays in an ``npz`` file
(plain arrays, readable without pickling) and :func:`load_cached` reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml4hep.errors import ConfigError, InputFileError

UNCORRELATED = ("UNCORR", "THEORYUNCORR")


@dataclass
class Dataset:
    """One DIS dataset (all its points, before cuts).

    Attributes:
        name: ``{setname}_{observable}``.
        x: Bjorken x per point.
        q2: Q^2 in GeV^2 per point.
        y: Third kinematic variable of the commondata (inelasticity for most DIS sets).
        central: Central values.
        stat: Statistical uncertainties (absolute).
        add: Additive systematics (absolute), shape (points, sources).
        add_names: Source names of ``add`` (CORR, UNCORR, or a named correlated source).
        mult: Multiplicative systematics in percent of the central value, shape (points, sources).
        mult_names: Source names of ``mult``.
        index: Point numbers (0-based) in the commondata file.
    """

    name: str
    x: np.ndarray
    q2: np.ndarray
    y: np.ndarray
    central: np.ndarray
    stat: np.ndarray
    add: np.ndarray
    add_names: np.ndarray
    mult: np.ndarray
    mult_names: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.central)

    def select(self, mask: np.ndarray) -> Dataset:
        """The points where ``mask`` holds (boolean mask or integer positions)."""
        fields = ("x", "q2", "y", "central", "stat", "add", "mult", "index")
        values = {name: getattr(self, name)[mask] for name in fields}
        return Dataset(self.name, add_names=self.add_names, mult_names=self.mult_names, **values)

    def with_central(self, central: np.ndarray) -> Dataset:
        """A copy with other central values (pseudo-data); uncertainties are unchanged."""
        fields = ("x", "q2", "y", "stat", "add", "mult", "index", "add_names", "mult_names")
        return Dataset(self.name, central=np.asarray(central, float), **{n: getattr(self, n) for n in fields})


def split_name(name: str) -> tuple[str, str]:
    """``BCDMS_NC_NOTFIXED_P_EM-F2`` -> (``BCDMS_NC_NOTFIXED_P``, ``EM-F2``) (observables hold no underscore)."""
    if "_" not in name:
        raise ConfigError(f"pdf dataset {name!r}: expected '<setname>_<observable>', e.g. BCDMS_NC_NOTFIXED_P_EM-F2")
    setname, observable = name.rsplit("_", 1)
    return setname, observable


def commondata_root() -> Path:
    """Folder of the commondata files shipped with ``nnpdf-data``."""
    import nnpdf_data

    return Path(nnpdf_data.__file__).parent / "commondata"


def load_dataset(name: str, variant: str | None = "legacy") -> Dataset:
    """Read one dataset from ``nnpdf-data`` (slow for large sets: cache it with :func:`save_dataset`).

    Args:
        name: ``{setname}_{observable}``.
        variant: Metadata variant (ported legacy sets need ``legacy``); empty or None for none.

    Returns:
        All points of the dataset.

    Raises:
        ConfigError: The set, observable or variant does not exist.
    """
    from nnpdf_data.commondataparser import load_commondata, parse_new_metadata

    setname, observable = split_name(name)
    metadata = commondata_root() / setname / "metadata.yaml"
    if not metadata.exists():
        known = sorted(p.name for p in commondata_root().iterdir() if p.is_dir())
        close = [k for k in known if k.split("_")[0] == setname.split("_")[0]]
        raise ConfigError(f"pdf dataset {name!r}: no commondata set {setname!r} in nnpdf-data (similar: {close})")
    try:
        parsed = parse_new_metadata(metadata, observable, variant=variant or None)
        commondata = load_commondata(parsed)
    except (ValueError, KeyError) as error:
        raise ConfigError(f"pdf dataset {name!r} (variant {variant!r}): {error}") from None
    kin = commondata.kinematics.to_numpy(dtype=float)
    add = commondata.additive_errors
    mult = commondata.multiplicative_errors
    return Dataset(
        name=name,
        x=kin[:, 0].copy(),
        q2=kin[:, 1].copy(),
        y=kin[:, 2].copy(),
        central=commondata.central_values.to_numpy(dtype=float),
        stat=commondata.stat_errors.to_numpy(dtype=float),
        add=add.to_numpy(dtype=float).reshape(len(kin), -1),
        add_names=np.asarray(add.columns, dtype=str),
        mult=mult.to_numpy(dtype=float).reshape(len(kin), -1),
        mult_names=np.asarray(mult.columns, dtype=str),
        index=np.arange(len(kin)),
    )


def save_dataset(dataset: Dataset, path: str | Path) -> Path:
    """Cache a dataset as plain arrays in an ``npz`` file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        k: getattr(dataset, k)
        for k in ("x", "q2", "y", "central", "stat", "add", "add_names", "mult", "mult_names", "index")
    }
    np.savez(path, name=np.asarray(dataset.name), **arrays)
    return path


def load_cached(path: str | Path) -> Dataset:
    """Read a dataset written by :func:`save_dataset` (no pickles)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(str(path), "cached pdf dataset does not exist")
    with np.load(path, allow_pickle=False) as content:
        return Dataset(name=str(content["name"]), **{k: content[k] for k in content.files if k != "name"})


def kinematic_cuts(
    dataset: Dataset, q2_min: float, w2_min: float, q2_max: float | None = None, x_min: float = 0.0
) -> np.ndarray:
    """Boolean mask of the points passing the DIS cuts Q^2 > q2_min, W^2 > w2_min (and Q^2 <= q2_max, x >= x_min).

    W^2 = Q^2 (1 - x) / x + m_p^2 with the proton mass m_p = 0.938 GeV (NNPDF's convention).
    """
    w2 = dataset.q2 * (1.0 - dataset.x) / dataset.x + 0.938**2
    mask = (dataset.q2 > q2_min) & (w2 > w2_min) & (dataset.x >= x_min)
    if q2_max is not None:
        mask &= dataset.q2 <= q2_max
    return mask


def systematics(dataset: Dataset, mult_reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Absolute correlated and uncorrelated systematic uncertainties.

    Args:
        dataset: The points.
        mult_reference: Values the MULT percentages refer to (None: the central values; t0 predictions for a t0
            covariance).

    Returns:
        (correlated, shape (points, sources)), (uncorrelated, shape (points, sources)).
    """
    reference = dataset.central if mult_reference is None else np.asarray(mult_reference, float)
    absolute = np.concatenate([dataset.add, dataset.mult * reference[:, None] / 100.0], axis=1)
    names = np.concatenate([dataset.add_names, dataset.mult_names])
    keep = names != "SKIP"
    uncorrelated = np.isin(names, UNCORRELATED) & keep
    correlated = ~np.isin(names, UNCORRELATED) & keep
    return absolute[:, correlated], absolute[:, uncorrelated]


def covariance(datasets: list[Dataset], mult_references: list[np.ndarray] | None = None) -> np.ndarray:
    """Experimental (or t0) covariance of several datasets, with cross-dataset correlations of named sources.

    Sources with the same name in two datasets (e.g. a shared normalisation) are correlated across them; CORR and
    THEORYCORR are per-dataset sources.

    Args:
        datasets: The datasets, in the order of the rows.
        mult_references: Per dataset, the values the MULT uncertainties multiply (None: the central values).

    Returns:
        The covariance matrix, shape (total points, total points).
    """
    n = sum(len(d) for d in datasets)
    cov = np.zeros((n, n))
    shared: dict[str, np.ndarray] = {}
    start = 0
    for k, dataset in enumerate(datasets):
        stop = start + len(dataset)
        reference = None if mult_references is None else mult_references[k]
        corr, uncorr = systematics(dataset, reference)
        block = np.diag(dataset.stat**2 + (uncorr**2).sum(axis=1)) + corr @ corr.T
        cov[start:stop, start:stop] += block
        absolute_names = _correlated_names(dataset)
        for column, source in enumerate(absolute_names):
            if source in ("CORR", "THEORYCORR"):
                continue
            vector = shared.setdefault(source, np.zeros(n))
            vector[start:stop] = corr[:, column]
        start = stop
    for source, vector in shared.items():
        owners = [d for d in datasets if source in _correlated_names(d)]
        if len(owners) > 1:
            cov += np.outer(vector, vector)
            start = 0
            for dataset in datasets:
                stop = start + len(dataset)
                cov[start:stop, start:stop] -= np.outer(vector[start:stop], vector[start:stop])
                start = stop
    return cov


def _correlated_names(dataset: Dataset) -> list[str]:
    names = np.concatenate([dataset.add_names, dataset.mult_names])
    keep = (names != "SKIP") & ~np.isin(names, UNCORRELATED)
    return [str(s) for s in names[keep]]
