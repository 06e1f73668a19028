"""Fit inputs: data after cuts with FK tables and covariances; closure pseudo-data; Monte Carlo replicas; splits.

Closure levels (NNPDF, arXiv:2111.05787): level 0 fits the truth predictions themselves; level 1 fits data shifted
once by a Gaussian draw from the experimental covariance (one fixed shift per closure fit); level 2 fits Monte Carlo
replicas of the level-1 data (a new Gaussian draw per replica). In ``data`` mode the experimental central values
take the place of the level-1 data.

Covariances: ``sampling`` (used to draw level-1 shifts and replicas, and for the closure estimators) multiplies the
MULT uncertainties by the truth predictions in closure mode and by the data in data mode; ``fit`` (in the chi2 of the
fit) multiplies them by the fitted central values (``exp``) or by t0 predictions (``t0``; the truth in closure mode,
the truth toy set in data mode: a documented simplification, NNPDF uses a previous fit).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.errors import ConfigError, InputFileError
from ml4hep.pdf.commondata import Dataset, covariance, kinematic_cuts, load_cached
from ml4hep.pdf.theory import load_table
from ml4hep.pdf.truth import FIT_BASIS, rotation, truth_on_grid

log = logging.getLogger(__name__)


@dataclass
class FitInputs:
    """Everything a replica fit reads (one closure fit).

    Attributes:
        datasets: Dataset names (fitted ones first, then held-out ones).
        fitted: Per dataset, whether it is fitted (False: held out for the closure estimators).
        point_dataset: Dataset number of every point.
        x: Points' x.
        q2: Points' Q^2.
        data: Central values fitted (level 0/1 pseudo-data or experimental data).
        truth: Truth predictions (NaN in data mode).
        cov_sampling: Covariance to draw replicas (and for the closure estimators).
        cov_fit: Covariance of the fit's chi2.
        fk: FK tables in FIT_BASIS, shape (points, len(FIT_BASIS), nx).
        positivity_fk: Positivity FK table in FIT_BASIS.
        xgrid: The FK x-grid.
        level: Closure level (0, 1, 2) or -1 in data mode.
        fit_seed: Seed of the fit (its level-1 shift; a training mask shared by its replicas derives from it).
    """

    datasets: list[str]
    fitted: np.ndarray
    point_dataset: np.ndarray
    x: np.ndarray
    q2: np.ndarray
    data: np.ndarray
    truth: np.ndarray
    cov_sampling: np.ndarray
    cov_fit: np.ndarray
    fk: np.ndarray
    positivity_fk: np.ndarray
    xgrid: np.ndarray
    level: int
    fit_seed: int = 0

    def save(self, path: str | Path) -> Path:
        """Write as an ``npz`` of plain arrays."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "datasets"}
        np.savez(path, datasets=np.asarray(self.datasets, dtype=str), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> FitInputs:
        """Read a file written by :meth:`save` (no pickles)."""
        if not Path(path).exists():
            raise InputFileError(str(path), "pdf fit inputs do not exist")
        with np.load(path, allow_pickle=False) as content:
            values = {k: content[k] for k in content.files}
        values["datasets"] = [str(s) for s in values["datasets"]]
        values["level"] = int(values["level"])
        values["fit_seed"] = int(values.get("fit_seed", 0))  # files written before the field existed
        return cls(**values)

    def fitted_points(self) -> np.ndarray:
        """Boolean mask of the points of fitted datasets."""
        return self.fitted[self.point_dataset]


def to_fit_basis(fk: np.ndarray) -> np.ndarray:
    """FK table over INPUT_PIDS -> over FIT_BASIS (contracting with :func:`ml4hep.pdf.truth.rotation`)."""
    return np.einsum("iak,ab->ibk", fk, rotation())


def select_points(
    dataset: Dataset, table: Mapping[str, np.ndarray], cuts: Mapping[str, Any], dataset_options: Mapping[str, Any]
) -> tuple[Dataset, np.ndarray]:
    """Points passing the cuts that the FK table covers, and their FK rows (in INPUT_PIDS)."""
    mask = kinematic_cuts(
        dataset,
        float(cuts["q2_min"]),
        float(cuts["w2_min"]),
        dataset_options.get("q2_max"),
        float(dataset_options.get("x_min", 0.0)),
    )
    covered = np.isin(dataset.index, table["index"])
    keep = np.flatnonzero(mask & covered)
    if len(keep) == 0:
        raise ConfigError(f"pdf dataset {dataset.name!r}: no point passes the cuts inside the theory's domain")
    row_of = {int(i): r for r, i in enumerate(table["index"])}
    rows = np.array([row_of[int(i)] for i in dataset.index[keep]])
    if not np.allclose(table["x"][rows], dataset.x[keep]) or not np.allclose(table["q2"][rows], dataset.q2[keep]):
        raise InputFileError(str(table["name"]), "FK table kinematics differ from the dataset's (rebuild the table)")
    return dataset.select(keep), table["fk"][rows]


def build_inputs(
    data_files: Mapping[str, str | Path],
    fk_files: Mapping[str, str | Path],
    positivity_file: str | Path,
    options: Mapping[str, Any],
    seed: int,
) -> FitInputs:
    """Assemble the inputs of one closure (or data) fit.

    Args:
        data_files: Dataset name -> cached commondata file.
        fk_files: Dataset name -> FK table.
        positivity_file: Positivity FK table.
        options: The config's ``pdf`` block (``datasets``, ``cuts``, ``mode``, ``closure``, ``covariance``).
        seed: Seed of the level-1 shift.

    Returns:
        The fit inputs.
    """
    closure = options["closure"]
    held_out = [name for name in closure["held_out"] if name in data_files]
    names = [name for name in options["datasets"] if name not in held_out] + held_out
    if not [n for n in names if n not in held_out]:
        raise ConfigError("pdf.closure.held_out: every dataset is held out, nothing left to fit")
    selected: list[Dataset] = []
    fks: list[np.ndarray] = []
    xgrid = None
    for name in names:
        table = load_table(fk_files[name])
        xgrid = table["xgrid"] if xgrid is None else xgrid
        if not np.allclose(xgrid, table["xgrid"]):
            raise InputFileError(str(fk_files[name]), "FK tables on different x-grids")
        dataset, fk = select_points(
            load_cached(data_files[name]), table, options["cuts"], options["datasets"].get(name, {})
        )
        log.info("%s: %d points after cuts", name, len(dataset))
        selected.append(dataset)
        fks.append(to_fit_basis(fk))
    assert xgrid is not None
    fk_all = np.concatenate(fks)
    closure_mode = options["mode"] == "closure"
    truth_pdf = truth_on_grid(xgrid, closure["truth"] if closure_mode else "les_houches")
    truth_parts = [np.einsum("ibk,bk->i", fk, truth_pdf) for fk in fks]
    if closure_mode:
        cov_sampling = covariance(selected, truth_parts)
        level0 = np.concatenate(truth_parts)
        level = int(closure["level"])
        rng = np.random.default_rng(seed)
        shift = rng.multivariate_normal(np.zeros(len(level0)), cov_sampling) if level >= 1 else 0.0
        data = level0 + shift
        truth = level0
    else:
        cov_sampling = covariance(selected)
        data = np.concatenate([d.central for d in selected])
        truth = np.full(len(data), np.nan)
        level = -1
    if options["covariance"] == "t0":
        cov_fit = covariance(selected, truth_parts)
    else:
        sizes = np.cumsum([0] + [len(d) for d in selected])
        cov_fit = covariance(selected, [data[a:b] for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
    positivity = load_table(positivity_file)
    return FitInputs(
        datasets=names,
        fitted=np.array([n not in held_out for n in names]),
        point_dataset=np.concatenate([np.full(len(d), k) for k, d in enumerate(selected)]),
        x=np.concatenate([d.x for d in selected]),
        q2=np.concatenate([d.q2 for d in selected]),
        data=data,
        truth=truth,
        cov_sampling=cov_sampling,
        cov_fit=cov_fit,
        fk=fk_all,
        positivity_fk=to_fit_basis(positivity["fk"]),
        xgrid=xgrid,
        level=level,
        fit_seed=int(seed),
    )


def replica_data(inputs: FitInputs, seed: int) -> np.ndarray:
    """Central values one replica fits: the data itself at closure level 0 and 1, a Gaussian replica otherwise."""
    if inputs.level in (0, 1):
        return inputs.data.copy()
    rng = np.random.default_rng(seed)
    return inputs.data + rng.multivariate_normal(np.zeros(len(inputs.data)), inputs.cov_sampling)


def training_split(point_dataset: np.ndarray, points: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean training mask over ``points`` (indices): ``fraction`` of every dataset's points, at random.

    Datasets with a single point go to training. The rest is the validation set.
    """
    rng = np.random.default_rng(seed)
    train = np.zeros(len(points), dtype=bool)
    for k in np.unique(point_dataset[points]):
        members = np.flatnonzero(point_dataset[points] == k)
        n_train = len(members) if len(members) == 1 else int(round(fraction * len(members)))
        n_train = min(max(n_train, 1), len(members) - (len(members) > 1))
        train[rng.choice(members, size=n_train, replace=False)] = True
    return train


def basis_names() -> Sequence[str]:
    """The fitted basis (re-exported for scripts)."""
    return FIT_BASIS
