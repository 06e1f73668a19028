"""Replica fits: x f_k(x) = A_k x^(1-alpha_k) (1-x)^beta_k NN_k(x, ln x) at Q0, chi2 with the covariance.

The network (NNPDF-like: inputs (x, ln x), hidden widths from the config, tanh, one linear output per basis
function of :data:`ml4hep.pdf.truth.FIT_BASIS`) is multiplied by the preprocessing factor; the exponents are drawn
per replica, uniformly inside the configured ranges (as NNPDF does). The normalisations A_k impose the sum rules
exactly on the quadrature grid: the momentum sum rule fixes A_g = (1 - int x Sigma) / int x g_raw, the valence sum
rules fix A_V = 3 / int V_raw and A_V3 = 1 / int V3_raw (u_v -> 2, d_v -> 1 with s_v = 0); Sigma, T3, T8 are free.

Loss: chi2 of the training points with the fit covariance (its training block; training and validation points are
treated as uncorrelated, as in NNPDF) plus a positivity penalty ``lambda * sum relu(-P)`` over the positivity
pseudo-observables P. Full-batch Adam (learning rate decaying exponentially); at every epoch the validation chi2 is
computed, and the weights of the epoch with the lowest validation chi2 among those with positivity satisfied are kept.
Training stops ``patience`` epochs after the last improvement of the validation chi2 (any epoch), or at ``epochs``
(:class:`ml4hep.training.EarlyStopping`, positivity being the admissible predicate).

Several replicas fit together as one :class:`StackedPDFModel` (as n3fit does): their weights stacked along a replica
axis, one batched forward and backward pass per epoch, one early stopping per replica. A replica gets the result of
a fit of its own up to float rounding (the BLAS sums in another order for another batch size: ~1e-15 relative after
hundreds of epochs in the tests, the same best epoch).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ml4hep.pdf.truth import FIT_BASIS
from ml4hep.training import EarlyStopping

log = logging.getLogger(__name__)

NORMALISED = {"v": 3.0, "v3": 1.0}
"""Valence-like basis functions normalised by their number sum rule (int f dx)."""


def quadrature(n_log: int = 400, n_lin: int = 200, x_min: float = 1e-9, x_mid: float = 0.1) -> tuple[np.ndarray, ...]:
    """Nodes and weights for int_0^1 f(x) dx: trapezoid in ln x below x_mid (weights x dlnx), in x above it."""
    t = np.linspace(math.log(x_min), math.log(x_mid), n_log)
    x_low = np.exp(t)
    w_low = np.full(n_log, t[1] - t[0]) * x_low
    w_low[[0, -1]] *= 0.5
    x_high = np.linspace(x_mid, 1.0, n_lin + 1)[1:]
    w_high = np.full(n_lin, x_high[1] - x_high[0])
    w_high[-1] *= 0.5
    w_low[-1] += 0.5 * (x_high[1] - x_high[0])  # x_mid also closes the first linear interval
    return np.concatenate([x_low, x_high]), np.concatenate([w_low, w_high])


class PDFModel(nn.Module):
    """x f_k(x) for k in FIT_BASIS, with the sum rules imposed by normalisation.

    Args:
        hidden: Hidden-layer widths (e.g. [25, 20]).
        alpha: Small-x exponents per basis function (x f ~ x^(1-alpha)).
        beta: Large-x exponents per basis function.
        activation: ``tanh`` or ``sigmoid``.
        quadrature_points: (log, linear) nodes of the sum-rule quadrature.
    """

    def __init__(
        self,
        hidden: Sequence[int],
        alpha: Sequence[float],
        beta: Sequence[float],
        activation: str = "tanh",
        quadrature_points: tuple[int, int] = (400, 200),
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = 2
        act = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[activation]
        for size in hidden:
            layers += [nn.Linear(width, size), act()]
            width = size
        layers.append(nn.Linear(width, len(FIT_BASIS)))
        self.net = nn.Sequential(*layers).double()
        self.register_buffer("alpha", torch.tensor(list(alpha), dtype=torch.float64))
        self.register_buffer("beta", torch.tensor(list(beta), dtype=torch.float64))
        xq, wq = quadrature(*quadrature_points)
        self.register_buffer("xq", torch.tensor(xq))
        self.register_buffer("wq", torch.tensor(wq))

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Un-normalised x f, shape (len(FIT_BASIS), n)."""
        inputs = torch.stack([x, torch.log(x)], dim=1)
        pre = x[None, :] ** (1 - self.alpha[:, None]) * (1 - x[None, :]) ** self.beta[:, None]
        return self.net(inputs).T * pre

    def normalisations(self) -> torch.Tensor:
        """A_k imposing the momentum and valence sum rules (1 for the free functions)."""
        raw = self.raw(self.xq)
        integral_xf = raw @ self.wq  # int x f dx
        integral_f = (raw / self.xq) @ self.wq  # int f dx
        index = {name: k for k, name in enumerate(FIT_BASIS)}
        norm = torch.ones(len(FIT_BASIS), dtype=torch.float64, device=raw.device)
        norm = norm.clone()
        norm[index["g"]] = (1 - integral_xf[index["sigma"]]) / integral_xf[index["g"]]
        for name, target in NORMALISED.items():
            norm[index[name]] = target / integral_f[index[name]]
        return norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised x f at ``x``, shape (len(FIT_BASIS), n)."""
        return self.normalisations()[:, None] * self.raw(x)


def sum_rules(model: PDFModel, n_points: int = 20000, x_min: float = 1e-9) -> dict[str, float]:
    """Momentum and valence sums with an independent, finer quadrature than the one the model normalises with."""
    xq, wq = quadrature(n_points, n_points // 2, x_min=x_min, x_mid=0.2)
    with torch.no_grad():
        device = next(model.parameters()).device
        xf = model(torch.tensor(xq, device=device)).cpu().numpy()
    index = {name: k for k, name in enumerate(FIT_BASIS)}
    return {
        "momentum": float((xf[index["g"]] + xf[index["sigma"]]) @ wq),
        "valence_uv": float(((xf[index["v"]] + xf[index["v3"]]) / 2 / xq) @ wq),
        "valence_dv": float(((xf[index["v"]] - xf[index["v3"]]) / 2 / xq) @ wq),
    }


@dataclass
class ReplicaFit:
    """Outcome of one replica's fit (:func:`fit_replica`, :func:`fit_replicas`).

    Attributes:
        best_epoch: Epoch (0-based) whose weights are kept.
        chi2_train: Training chi2 / N per recorded epoch.
        chi2_val: Validation chi2 / N per recorded epoch.
        epochs_recorded: Epoch numbers of the recorded values.
        best_chi2_val: Validation chi2 / N at the best epoch.
        best_chi2_train: Training chi2 / N at the best epoch.
        positivity_ok: Whether the kept weights satisfy positivity (penalty below tolerance).
        epochs_run: Epochs trained.
        seconds: Wall time (for a batch of replicas: the batch's wall time divided by its replicas).
    """

    best_epoch: int
    best_chi2_val: float
    best_chi2_train: float
    positivity_ok: bool
    epochs_run: int
    seconds: float
    chi2_train: list[float] = field(default_factory=list)
    chi2_val: list[float] = field(default_factory=list)
    epochs_recorded: list[int] = field(default_factory=list)


def _whitener(cov: np.ndarray) -> np.ndarray:
    """L^-1 with C = L L^T, so that chi2 = |L^-1 r|^2."""
    return np.linalg.inv(np.linalg.cholesky(cov))


def split_whitener(cov: np.ndarray, train: np.ndarray) -> np.ndarray:
    """One whitening matrix for both chi2s of a training/validation split.

    The training and validation points are treated as uncorrelated (as in NNPDF), so the whitener is block
    diagonal: L_train^-1 on the training rows and columns, L_val^-1 on the validation ones. With z = W r the
    training chi2 is the sum of z^2 over the training points and the validation chi2 the sum over the others; the
    matrix has the same shape for every split, so replicas with different masks stack without padding.

    Args:
        cov: Covariance of the fitted points.
        train: Boolean training mask over the fitted points.

    Returns:
        W, shape (points, points).
    """
    whiten = np.zeros_like(cov, dtype=float)
    for mask in (train, ~train):
        if mask.any():
            whiten[np.ix_(mask, mask)] = _whitener(cov[np.ix_(mask, mask)])
    return whiten


class StackedPDFModel(nn.Module):
    """Several :class:`PDFModel` of one architecture as one vectorised module (as n3fit fits its replicas).

    The weights of layer l of all replicas form one (replicas, out, in) parameter and each layer is one batched
    matrix product, so the replicas train in one forward and backward pass; the preprocessing exponents are
    per replica. Nothing mixes replicas: the gradient of the summed loss with respect to replica r's slice is the
    gradient of replica r's own loss, and Adam acts elementwise, so each replica follows the trajectory it would
    follow alone.

    Args:
        models: The replicas' models, already initialised (copied, not shared).
    """

    def __init__(self, models: Sequence[PDFModel]) -> None:
        super().__init__()
        first = models[0]
        self.names = [name for name, _ in first.named_parameters()]  # net.0.weight, net.0.bias, ...
        self.stacked = nn.ParameterList(
            [
                nn.Parameter(torch.stack([dict(m.named_parameters())[name].detach() for m in models]).clone())
                for name in self.names
            ]
        )
        self.activation = next((type(layer) for layer in first.net if not isinstance(layer, nn.Linear)), nn.Identity)()
        self.register_buffer("alpha", torch.stack([m.alpha for m in models]))
        self.register_buffer("beta", torch.stack([m.beta for m in models]))
        self.register_buffer("xq", first.xq.clone())
        self.register_buffer("wq", first.wq.clone())

    @property
    def replicas(self) -> int:
        """Number of stacked replicas."""
        return len(self.alpha)

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Un-normalised x f of every replica, shape (replicas, len(FIT_BASIS), n)."""
        hidden = torch.stack([x, torch.log(x)], dim=1).expand(self.replicas, -1, -1)
        layers = len(self.stacked) // 2
        for k in range(layers):
            weight, bias = self.stacked[2 * k], self.stacked[2 * k + 1]
            hidden = torch.baddbmm(bias[:, None, :], hidden, weight.transpose(1, 2))
            if k < layers - 1:
                hidden = self.activation(hidden)
        pre = x ** (1 - self.alpha[:, :, None]) * (1 - x) ** self.beta[:, :, None]
        return hidden.transpose(1, 2) * pre

    def normalisations(self) -> torch.Tensor:
        """A_k of every replica, shape (replicas, len(FIT_BASIS)) (see :meth:`PDFModel.normalisations`)."""
        raw = self.raw(self.xq)
        integral_xf = raw @ self.wq
        integral_f = (raw / self.xq) @ self.wq
        index = {name: k for k, name in enumerate(FIT_BASIS)}
        columns = [torch.ones_like(integral_xf[:, 0])] * len(FIT_BASIS)
        columns[index["g"]] = (1 - integral_xf[:, index["sigma"]]) / integral_xf[:, index["g"]]
        for name, target in NORMALISED.items():
            columns[index[name]] = target / integral_f[:, index[name]]
        return torch.stack(columns, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised x f of every replica at ``x``, shape (replicas, len(FIT_BASIS), n)."""
        return self.normalisations()[:, :, None] * self.raw(x)

    def replica(self, r: int) -> ReplicaSlice:
        """Replica ``r``'s weights as a module (what its :class:`~ml4hep.training.EarlyStopping` keeps)."""
        return ReplicaSlice(self, r)


class ReplicaSlice(nn.Module):
    """One replica of a :class:`StackedPDFModel`, as a module whose state is its slice of the stack.

    ``state_dict`` gives views of slice ``r`` of every stacked parameter under the :class:`PDFModel` names
    (:class:`~ml4hep.training.EarlyStopping` copies them), ``load_state_dict`` writes into those slices.

    Args:
        stacked: The stacked model.
        r: The replica's index in it.
    """

    def __init__(self, stacked: StackedPDFModel, r: int) -> None:
        super().__init__()
        self._stacked = [stacked]  # a list: not registered as a submodule
        self.r = r

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:  # noqa: ARG002 - nn.Module API
        """The replica's weights (detached views into the stack), keyed like a :class:`PDFModel`'s parameters."""
        stacked = self._stacked[0]
        return {name: p.detach()[self.r] for name, p in zip(stacked.names, stacked.stacked, strict=True)}

    def load_state_dict(self, state: Mapping[str, torch.Tensor], strict: bool = True, assign: bool = False) -> Any:  # noqa: ARG002
        """Copy the weights in ``state`` into the replica's slices of the stack."""
        with torch.no_grad():
            for name, view in self.state_dict().items():
                view.copy_(state[name])

    def copy_to(self, model: PDFModel) -> None:
        """Load the replica's current weights into ``model`` (a :class:`PDFModel` of the same architecture)."""
        weights = self.state_dict()
        with torch.no_grad():
            for name, param in model.named_parameters():
                param.copy_(weights[name])


@dataclass
class _Target:
    """What the replicas are fitted to, as tensors on the training device (stacked over the replicas)."""

    data: torch.Tensor  # (replicas, points)
    whiten: torch.Tensor  # (replicas, points, points)
    train: torch.Tensor  # (replicas, points) 1/0
    n_train: np.ndarray  # (replicas,)
    n_val: np.ndarray  # (replicas,)


def _targets(data: np.ndarray, cov: np.ndarray, train: np.ndarray, device: torch.device) -> _Target:
    """Stack the replicas' data, split whiteners and masks."""
    whiten = np.stack([split_whitener(cov, mask) for mask in train])
    return _Target(
        torch.tensor(data, dtype=torch.float64, device=device),
        torch.tensor(whiten, device=device),
        torch.tensor(train, dtype=torch.float64, device=device),
        train.sum(axis=1),
        (~train).sum(axis=1),
    )


def fit_replicas(
    models: Sequence[PDFModel],
    fk: np.ndarray,
    xgrid: np.ndarray,
    data: np.ndarray,
    cov: np.ndarray,
    train: np.ndarray,
    positivity_fk: np.ndarray,
    options: Mapping[str, Any],
    device: torch.device | None = None,
) -> list[ReplicaFit]:
    """Train several replicas as one vectorised model, each early-stopping on its own validation chi2.

    Each replica has its own data, training mask, preprocessing and initial weights (its model) and its own
    :class:`~ml4hep.training.EarlyStopping` (positivity satisfied = admissible epoch); a replica that has stopped
    (or diverged) drops out of the loss and its kept weights are final, while the others go on. A replica gets the
    result it would get fitted alone (the same computation, batched; tests/test_pdf_fit.py checks it).

    Args:
        models: The replicas' PDF models (the kept weights are loaded into them at the end).
        fk: FK tables in FIT_BASIS of the fitted points, shape (points, len(FIT_BASIS), nx), shared.
        xgrid: FK x-grid.
        data: Central values per replica, shape (replicas, points).
        cov: Fit covariance of the fitted points, shared.
        train: Boolean training masks, shape (replicas, points) (the rest validates).
        positivity_fk: Positivity FK table in FIT_BASIS.
        options: ``epochs``, ``patience``, ``learning_rate``, ``lr_final_fraction``, ``positivity_lambda``,
            ``positivity_tolerance``, ``record_every``.
        device: Where to train.

    Returns:
        One history and best epoch per replica.
    """
    device = device or torch.device("cpu")
    data, train = np.atleast_2d(np.asarray(data, float)), np.atleast_2d(np.asarray(train, bool))
    if not len(models) == len(data) == len(train):
        raise ValueError(f"{len(models)} models, {len(data)} data replicas and {len(train)} training masks")
    for model in models:
        model.to(device)
    stacked = StackedPDFModel(models).to(device)
    slices = [stacked.replica(r) for r in range(len(models))]
    target = _targets(data, cov, train, device)
    grid = torch.tensor(np.clip(xgrid, 1e-12, 1 - 1e-12), device=device)
    at_one = torch.tensor(xgrid >= 1.0, device=device)
    inv_x = torch.tensor(1.0 / np.clip(xgrid, 1e-12, None), device=device)
    fk_flat = torch.tensor(fk.reshape(len(fk), -1), device=device)
    fk_pos = torch.tensor(positivity_fk.reshape(len(positivity_fk), -1), device=device)
    lam = float(options["positivity_lambda"])
    tolerance = float(options["positivity_tolerance"])
    optimiser = torch.optim.Adam(stacked.parameters(), lr=float(options["learning_rate"]))
    # the learning rate falls exponentially to lr_final_fraction x lr at the last epoch (settles the positivity
    # penalty's oscillation around zero)
    gamma = float(options.get("lr_final_fraction", 1.0)) ** (1.0 / max(int(options["epochs"]), 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=gamma)
    n_train = torch.tensor(target.n_train, dtype=torch.float64, device=device)

    def pdf_on_grid() -> torch.Tensor:
        f = stacked(grid) * inv_x
        return torch.where(at_one, torch.zeros_like(f), f).reshape(len(models), -1)

    start = time.perf_counter()
    results = [
        ReplicaFit(
            best_epoch=-1,
            best_chi2_val=math.inf,
            best_chi2_train=math.inf,
            positivity_ok=False,
            epochs_run=0,
            seconds=0.0,
        )
        for _ in models
    ]
    stoppers = [EarlyStopping(int(options["patience"])) for _ in models]
    active = list(range(len(models)))
    every = int(options["record_every"])
    for epoch in range(int(options["epochs"])):
        # the weights "of epoch e" are those before the e-th update: their chi2 comes with the same forward pass
        optimiser.zero_grad()
        pdf = pdf_on_grid()
        whitened = torch.bmm(target.whiten, (target.data - pdf @ fk_flat.T)[:, :, None])[:, :, 0] ** 2
        chi2_train = (whitened * target.train).sum(dim=1)
        penalty = torch.relu(-(pdf @ fk_pos.T)).sum(dim=1)
        with torch.no_grad():
            chi2_val = (whitened * (1 - target.train)).sum(dim=1)
            values = torch.stack([chi2_train, chi2_val, penalty]).cpu().numpy()  # one device sync per epoch
        active = [
            r
            for r in active
            if not _record(
                results[r],
                stoppers[r],
                slices[r],
                epoch,
                every,
                values[:, r],
                int(target.n_train[r]),
                int(target.n_val[r]),
                tolerance,
            )
        ]
        if not active:
            break
        loss = (chi2_train / n_train + lam * penalty)[active].sum()
        loss.backward()
        optimiser.step()
        scheduler.step()
    seconds = (time.perf_counter() - start) / len(models)  # device time per replica of this batch
    for model, piece, stopper, result in zip(models, slices, stoppers, results, strict=True):
        if stopper.restore(piece):  # else (no epoch with positivity) the initial weights stay
            piece.copy_to(model)
        result.seconds = seconds
        log.info(
            "replica fit: %d epochs, best %d, chi2/N train %.3f val %.3f",
            result.epochs_run,
            result.best_epoch,
            result.best_chi2_train,
            result.best_chi2_val,
        )
    log.info("%d replica(s) fitted in %.1f s (%.2f s per replica)", len(models), seconds * len(models), seconds)
    return results


def _record(
    result: ReplicaFit,
    stopper: EarlyStopping,
    piece: ReplicaSlice,
    epoch: int,
    every: int,
    values: np.ndarray,
    n_train: int,
    n_val: int,
    tolerance: float,
) -> bool:
    """Book one epoch of one replica (history, early stopping); True when the replica stops (or diverged)."""
    train_value = float(values[0]) / n_train
    val_value = float(values[1]) / n_val if n_val else train_value
    positive = float(values[2]) <= tolerance
    if not (math.isfinite(train_value) and math.isfinite(val_value)):
        log.warning("replica fit diverged at epoch %d", epoch)
        return True
    if epoch % every == 0:
        result.epochs_recorded.append(epoch)
        result.chi2_train.append(train_value)
        result.chi2_val.append(val_value)
    result.epochs_run = epoch + 1
    # patience counts from the lowest validation chi2 of any epoch; the kept weights: the lowest with positivity
    stop = stopper.update(epoch, val_value, piece, admissible=positive)
    if stopper.best_epoch == epoch:
        result.best_epoch, result.best_chi2_val, result.best_chi2_train = epoch, val_value, train_value
        result.positivity_ok = True
    return stop


def fit_replica(
    model: PDFModel,
    fk: np.ndarray,
    xgrid: np.ndarray,
    data: np.ndarray,
    cov: np.ndarray,
    train: np.ndarray,
    positivity_fk: np.ndarray,
    options: Mapping[str, Any],
    device: torch.device | None = None,
) -> ReplicaFit:
    """Train one replica, early-stopping on the validation chi2 (:func:`fit_replicas` with one replica).

    Args:
        model: The PDF model (the kept weights are loaded into it at the end).
        fk: FK tables in FIT_BASIS of the fitted points, shape (points, len(FIT_BASIS), nx).
        xgrid: FK x-grid.
        data: Central values of this replica (fitted points).
        cov: Fit covariance of the fitted points.
        train: Boolean training mask over the fitted points (the rest validates).
        positivity_fk: Positivity FK table in FIT_BASIS.
        options: As for :func:`fit_replicas`.
        device: Where to train.

    Returns:
        History and best epoch.
    """
    return fit_replicas(
        [model], fk, xgrid, np.asarray(data)[None], cov, np.asarray(train, bool)[None], positivity_fk, options, device
    )[0]


def draw_preprocessing(ranges: Mapping[str, Any], rng: np.random.Generator) -> tuple[list[float], list[float]]:
    """Per-replica exponents: uniform inside each basis function's [low, high] alpha and beta ranges.

    With ``ranges["fixed"]`` every replica takes the middle of each range instead (no draw: the closure study of
    docs/pdf.md switches the per-replica preprocessing off with it).

    Example:
        >>> ranges = {name: {"alpha": [1.0, 1.2], "beta": [3.0, 4.0]} for name in FIT_BASIS}
        >>> draw_preprocessing({**ranges, "fixed": True}, np.random.default_rng(0))[1][0]
        3.5
    """
    if ranges.get("fixed", False):
        return (
            [float(np.mean(ranges[name]["alpha"])) for name in FIT_BASIS],
            [float(np.mean(ranges[name]["beta"])) for name in FIT_BASIS],
        )
    alpha = [float(rng.uniform(*ranges[name]["alpha"])) for name in FIT_BASIS]
    beta = [float(rng.uniform(*ranges[name]["beta"])) for name in FIT_BASIS]
    return alpha, beta


def evaluate(model: PDFModel, x: np.ndarray) -> np.ndarray:
    """Momentum densities x f in FIT_BASIS at ``x`` (numpy, shape (len(FIT_BASIS), n))."""
    with torch.no_grad():
        device = next(model.parameters()).device
        return model(torch.tensor(np.asarray(x, float), device=device)).cpu().numpy()


def pdf_on_xgrid(model: PDFModel, xgrid: np.ndarray) -> np.ndarray:
    """The PDF f (not x f) in FIT_BASIS on the FK grid (0 at x = 1)."""
    inner = np.clip(xgrid, 1e-12, 1 - 1e-12)
    xf = evaluate(model, inner)
    return np.where(xgrid[None, :] >= 1, 0.0, xf / inner[None, :])


def output_xgrid(x_min: float, points: int) -> np.ndarray:
    """x-grid of the stored replica curves: log-spaced from ``x_min`` to 0.9."""
    return np.geomspace(x_min, 0.9, points)


def prepare_replica(inputs: Any, options: Mapping[str, Any], seed: int) -> tuple[PDFModel, np.ndarray, np.ndarray]:
    """What a replica's seed decides, exactly as its own job draws it: data replica, split, exponents, weights.

    The seed decides the replica's Gaussian fluctuation (level 2 / data mode), its training/validation split, its
    preprocessing exponents and the network initialisation (each from its own derived stream; the last one seeds
    torch just before the model is built, so a replica's initial weights do not depend on the others of its batch).
    With ``training.shared_mask`` the split comes from the fit's seed instead (one mask for every replica of the
    fit), with ``preprocessing.fixed`` the exponents are the ranges' middles (:func:`draw_preprocessing`).

    Args:
        inputs: The fit inputs (:class:`ml4hep.pdf.pseudodata.FitInputs`).
        options: The config's ``pdf`` block.
        seed: The replica's seed.

    Returns:
        The initialised model, the replica's data (fitted points) and its training mask.
    """
    from ml4hep.pdf.pseudodata import replica_data, training_split
    from ml4hep.training import seed_everything

    streams = np.random.SeedSequence(seed).spawn(4)
    fitted = np.flatnonzero(inputs.fitted_points())
    data = replica_data(inputs, int(streams[0].generate_state(1)[0]))[fitted]
    split_stream = streams[1]
    if options["training"].get("shared_mask", False):
        split_stream = np.random.SeedSequence([int(inputs.fit_seed), 1])  # the fit's, not the replica's
    train = training_split(
        inputs.point_dataset, fitted, float(options["training"]["fraction"]), int(split_stream.generate_state(1)[0])
    )
    alpha, beta = draw_preprocessing(options["preprocessing"], np.random.default_rng(streams[2]))
    seed_everything(int(streams[3].generate_state(1)[0]))
    model = PDFModel(options["network"]["hidden"], alpha, beta, options["network"]["activation"])
    return model, data, train


def run_replicas(
    inputs_path: str,
    options: Mapping[str, Any],
    seeds: Sequence[int],
    device_name: str,
    outputs: Sequence[str],
    model_paths: Sequence[str],
) -> list[dict[str, Any]]:
    """Fit a batch of replicas as one vectorised model (the ``pdf_replica_batch`` rule) and write their files.

    Each replica's ``npz`` and model checkpoint are the files a job of its own writes, with the same content (the
    per-replica ``seconds`` are the batch's wall time divided by its replicas).

    Args:
        inputs_path: The fit inputs (:class:`ml4hep.pdf.pseudodata.FitInputs`).
        options: The config's ``pdf`` block.
        seeds: The replicas' seeds (:func:`prepare_replica`).
        device_name: ``auto``, ``cpu`` or ``cuda``.
        outputs: Replica ``npz`` per seed.
        model_paths: Checkpoint (state_dict of the kept weights) per seed.

    Returns:
        A summary per replica (best epoch, chi2 values, seconds, sum rules).
    """
    from pathlib import Path

    from ml4hep.pdf.pseudodata import FitInputs
    from ml4hep.training import save_checkpoint, select_device

    if not len(seeds) == len(outputs) == len(model_paths):
        raise ValueError(f"{len(seeds)} seeds for {len(outputs)} outputs and {len(model_paths)} checkpoints")
    inputs = FitInputs.load(inputs_path)
    fitted = np.flatnonzero(inputs.fitted_points())
    models, data, train = zip(*(prepare_replica(inputs, options, seed) for seed in seeds), strict=True)
    device = select_device(device_name)
    results = fit_replicas(
        models,
        inputs.fk[fitted],
        inputs.xgrid,
        np.stack(data),
        inputs.cov_fit[np.ix_(fitted, fitted)],
        np.stack(train),
        inputs.positivity_fk,
        options["training"],
        device,
    )
    x_out = output_xgrid(float(inputs.xgrid[0]), int(options["plots"]["x_points"]))
    summaries = []
    for model, result, replica, mask, seed, output, model_path in zip(
        models, results, data, train, seeds, outputs, model_paths, strict=True
    ):
        alpha, beta = model.alpha.tolist(), model.beta.tolist()
        pdf_grid = pdf_on_xgrid(model, inputs.xgrid)
        rules = sum_rules(model)
        arrays = {
            "xgrid": inputs.xgrid,
            "pdf_grid": pdf_grid,
            "x_out": x_out,
            "xf_out": evaluate(model, x_out),
            "predictions": np.einsum("ibk,bk->i", inputs.fk, pdf_grid),
            "replica_data": replica,
            "train": mask,
            "fitted_index": fitted,
            "epochs_recorded": np.array(result.epochs_recorded),
            "chi2_train": np.array(result.chi2_train),
            "chi2_val": np.array(result.chi2_val),
            "best_epoch": np.asarray(result.best_epoch),
            "epochs_run": np.asarray(result.epochs_run),
            "best_chi2_train": np.asarray(result.best_chi2_train),
            "best_chi2_val": np.asarray(result.best_chi2_val),
            "positivity_ok": np.asarray(result.positivity_ok),
            "seconds": np.asarray(result.seconds),
            "alpha": np.array(alpha),
            "beta": np.array(beta),
            "seed": np.asarray(seed),
            "sum_rules": np.array([rules["momentum"], rules["valence_uv"], rules["valence_dv"]]),
            "device": np.asarray(device.type),
        }
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        np.savez(output, **arrays)
        save_checkpoint(
            model,
            model_path,
            {
                "alpha": alpha,
                "beta": beta,
                "hidden": list(options["network"]["hidden"]),
                "activation": options["network"]["activation"],
                "seed": seed,
            },
        )
        summaries.append(
            {
                "best_epoch": result.best_epoch,
                "chi2_train": result.best_chi2_train,
                "chi2_val": result.best_chi2_val,
                "seconds": result.seconds,
                "sum_rules": rules,
            }
        )
    return summaries


def run_replica(
    inputs_path: str, options: Mapping[str, Any], seed: int, device_name: str, output: str, model_path: str
) -> dict[str, Any]:
    """Fit one replica and write its ``npz`` and checkpoint (:func:`run_replicas` with a batch of one)."""
    return run_replicas(inputs_path, options, [seed], device_name, [output], [model_path])[0]
