"""One replica fit: x f_k(x) = A_k x^(1-alpha_k) (1-x)^beta_k NN_k(x, ln x) at Q0, chi2 with the covariance.

The network (NNPDF-like: inputs (x, ln x), hidden widths from the config, tanh, one linear output per basis
function of :data:`ml4hep.pdf.truth.FIT_BASIS`) is multiplied by the preprocessing factor; the exponents are drawn
per replica, uniformly inside the configured ranges (as NNPDF does). The normalisations A_k impose the sum rules
exactly on the quadrature grid: the momentum sum rule fixes A_g = (1 - int x Sigma) / int x g_raw, the valence sum
rules fix A_V = 3 / int V_raw and A_V3 = 1 / int V3_raw (u_v -> 2, d_v -> 1 with s_v = 0); Sigma, T3, T8 are free.

Loss: chi2 of the training points with the fit covariance (its training block; training and validation points are
treated as uncorrelated, as in NNPDF) plus a positivity penalty ``lambda * sum relu(-P)`` over the positivity
pseudo-observables P. Full-batch Adam (learning rate decaying exponentially); at every epoch the validation chi2 is
computed, and the weights of the epoch with the lowest validation chi2 among those with positivity satisfied are kept.
Training stops ``patience`` epochs after the last improvement of the validation chi2 (any epoch), or at ``epochs``.
"""

from __future__ import annotations

import copy
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

    def __init__(self, hidden: Sequence[int], alpha: Sequence[float], beta: Sequence[float],
                 activation: str = "tanh", quadrature_points: tuple[int, int] = (400, 200)) -> None:
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
    return {"momentum": float((xf[index["g"]] + xf[index["sigma"]]) @ wq),
            "valence_uv": float(((xf[index["v"]] + xf[index["v3"]]) / 2 / xq) @ wq),
            "valence_dv": float(((xf[index["v"]] - xf[index["v3"]]) / 2 / xq) @ wq)}


@dataclass
class ReplicaFit:
    """Outcome of :func:`fit_replica`.

    Attributes:
        best_epoch: Epoch (0-based) whose weights are kept.
        chi2_train: Training chi2 / N per recorded epoch.
        chi2_val: Validation chi2 / N per recorded epoch.
        epochs_recorded: Epoch numbers of the recorded values.
        best_chi2_val: Validation chi2 / N at the best epoch.
        best_chi2_train: Training chi2 / N at the best epoch.
        positivity_ok: Whether the kept weights satisfy positivity (penalty below tolerance).
        epochs_run: Epochs trained.
        seconds: Wall time.
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


def _whitener(cov: np.ndarray) -> torch.Tensor:
    """L^-1 with C = L L^T, so that chi2 = |L^-1 r|^2."""
    chol = np.linalg.cholesky(cov)
    return torch.tensor(np.linalg.inv(chol))


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
    """Train ``model`` on the training points, early-stopping on the validation chi2.

    Args:
        model: The PDF model (trained in place; the best weights are loaded at the end).
        fk: FK tables in FIT_BASIS of the fitted points, shape (points, len(FIT_BASIS), nx).
        xgrid: FK x-grid.
        data: Central values of this replica (fitted points).
        cov: Fit covariance of the fitted points.
        train: Boolean training mask over the fitted points (the rest validates).
        positivity_fk: Positivity FK table in FIT_BASIS.
        options: ``epochs``, ``patience``, ``learning_rate``, ``positivity_lambda``, ``positivity_tolerance``,
            ``record_every``.
        device: Where to train.

    Returns:
        History and best epoch.
    """
    device = device or torch.device("cpu")
    model.to(device)
    train = np.asarray(train, bool)
    val = ~train
    grid = torch.tensor(np.clip(xgrid, 1e-12, 1 - 1e-12), device=device)
    at_one = torch.tensor(xgrid >= 1.0, device=device)
    inv_x = torch.tensor(1.0 / np.clip(xgrid, 1e-12, None), device=device)

    def pieces(mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        flat = torch.tensor(fk[mask].reshape(int(mask.sum()), -1), device=device)
        whiten = _whitener(cov[np.ix_(mask, mask)]).to(device)
        return flat, whiten, torch.tensor(data[mask], device=device)

    fk_train, w_train, d_train = pieces(train)
    has_val = bool(val.any())
    if has_val:
        fk_val, w_val, d_val = pieces(val)
    fk_pos = torch.tensor(positivity_fk.reshape(len(positivity_fk), -1), device=device)
    n_train, n_val = int(train.sum()), int(val.sum())
    lam = float(options["positivity_lambda"])
    tolerance = float(options["positivity_tolerance"])
    optimiser = torch.optim.Adam(model.parameters(), lr=float(options["learning_rate"]))
    # the learning rate falls exponentially to lr_final_fraction x lr at the last epoch (settles the positivity
    # penalty's oscillation around zero)
    gamma = float(options.get("lr_final_fraction", 1.0)) ** (1.0 / max(int(options["epochs"]), 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=gamma)

    def pdf_on_grid() -> torch.Tensor:
        f = model(grid) * inv_x[None, :]
        return torch.where(at_one[None, :], torch.zeros_like(f), f).reshape(-1)

    def chi2(flat: torch.Tensor, whiten: torch.Tensor, target: torch.Tensor, pdf: torch.Tensor) -> torch.Tensor:
        residual = whiten @ (target - flat @ pdf)
        return residual @ residual

    start = time.perf_counter()
    result = ReplicaFit(best_epoch=-1, best_chi2_val=math.inf, best_chi2_train=math.inf, positivity_ok=False,
                        epochs_run=0, seconds=0.0)
    best_state = copy.deepcopy(model.state_dict())
    best_score = math.inf
    lowest_val, lowest_epoch = math.inf, 0
    every = int(options["record_every"])
    for epoch in range(int(options["epochs"])):
        # the weights "of epoch e" are those before the e-th update: their chi2 comes with the same forward pass
        model.train()
        optimiser.zero_grad()
        pdf = pdf_on_grid()
        loss_chi2 = chi2(fk_train, w_train, d_train, pdf)
        penalty = torch.relu(-(fk_pos @ pdf)).sum()
        with torch.no_grad():
            fixed = pdf.detach()
            train_value = float(loss_chi2) / n_train
            val_value = float(chi2(fk_val, w_val, d_val, fixed)) / n_val if has_val else train_value
            positive = float(penalty) <= tolerance
        if not (math.isfinite(train_value) and math.isfinite(val_value)):
            log.warning("replica fit diverged at epoch %d", epoch)
            break
        if epoch % every == 0:
            result.epochs_recorded.append(epoch)
            result.chi2_train.append(train_value)
            result.chi2_val.append(val_value)
        result.epochs_run = epoch + 1
        if val_value < lowest_val:  # patience counts from the last improvement of the validation chi2
            lowest_val, lowest_epoch = val_value, epoch
        if positive and val_value < best_score:  # the kept weights: the best validation chi2 with positivity
            best_score = val_value
            best_state = copy.deepcopy(model.state_dict())
            result.best_epoch, result.best_chi2_val, result.best_chi2_train = epoch, val_value, train_value
            result.positivity_ok = True
        if epoch - lowest_epoch >= int(options["patience"]):
            break
        (loss_chi2 / n_train + lam * penalty).backward()
        optimiser.step()
        scheduler.step()
    model.load_state_dict(best_state)
    result.seconds = time.perf_counter() - start
    log.info("replica fit: %d epochs, best %d, chi2/N train %.3f val %.3f, %.1f s", result.epochs_run,
             result.best_epoch, result.best_chi2_train, result.best_chi2_val, result.seconds)
    return result


def draw_preprocessing(ranges: Mapping[str, Mapping[str, Sequence[float]]], rng: np.random.Generator
                       ) -> tuple[list[float], list[float]]:
    """Per-replica exponents: uniform inside each basis function's [low, high] alpha and beta ranges."""
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


def run_replica(inputs_path: str, options: Mapping[str, Any], seed: int, device_name: str, output: str,
                model_path: str) -> dict[str, Any]:
    """Fit one replica, as the ``pdf_replica`` rule does, and write its ``npz`` and model checkpoint.

    The seed decides the replica's Gaussian fluctuation (level 2 / data mode), its training/validation split, its
    preprocessing exponents and the network initialisation (each from its own derived stream).

    Args:
        inputs_path: The fit inputs (:class:`ml4hep.pdf.pseudodata.FitInputs`).
        options: The config's ``pdf`` block.
        seed: The replica's seed.
        device_name: ``auto``, ``cpu`` or ``cuda``.
        output: Replica ``npz``.
        model_path: Checkpoint (state_dict) of the kept weights.

    Returns:
        A summary (best epoch, chi2 values, seconds).
    """
    from ml4hep.pdf.pseudodata import FitInputs, replica_data, training_split
    from ml4hep.training import save_checkpoint, seed_everything, select_device

    inputs = FitInputs.load(inputs_path)
    streams = np.random.SeedSequence(seed).spawn(4)
    fitted = np.flatnonzero(inputs.fitted_points())
    data = replica_data(inputs, int(streams[0].generate_state(1)[0]))[fitted]
    train = training_split(inputs.point_dataset, fitted, float(options["training"]["fraction"]),
                           int(streams[1].generate_state(1)[0]))
    alpha, beta = draw_preprocessing(options["preprocessing"], np.random.default_rng(streams[2]))
    seed_everything(int(streams[3].generate_state(1)[0]))
    device = select_device(device_name)
    model = PDFModel(options["network"]["hidden"], alpha, beta, options["network"]["activation"])
    result = fit_replica(model, inputs.fk[fitted], inputs.xgrid, data, inputs.cov_fit[np.ix_(fitted, fitted)], train,
                         inputs.positivity_fk, options["training"], device)
    pdf_grid = pdf_on_xgrid(model, inputs.xgrid)
    x_out = output_xgrid(float(inputs.xgrid[0]), int(options["plots"]["x_points"]))
    rules = sum_rules(model)
    arrays = {
        "xgrid": inputs.xgrid, "pdf_grid": pdf_grid, "x_out": x_out, "xf_out": evaluate(model, x_out),
        "predictions": np.einsum("ibk,bk->i", inputs.fk, pdf_grid), "replica_data": data, "train": train,
        "fitted_index": fitted, "epochs_recorded": np.array(result.epochs_recorded),
        "chi2_train": np.array(result.chi2_train), "chi2_val": np.array(result.chi2_val),
        "best_epoch": np.asarray(result.best_epoch), "epochs_run": np.asarray(result.epochs_run),
        "best_chi2_train": np.asarray(result.best_chi2_train), "best_chi2_val": np.asarray(result.best_chi2_val),
        "positivity_ok": np.asarray(result.positivity_ok), "seconds": np.asarray(result.seconds),
        "alpha": np.array(alpha), "beta": np.array(beta), "seed": np.asarray(seed),
        "sum_rules": np.array([rules["momentum"], rules["valence_uv"], rules["valence_dv"]]),
        "device": np.asarray(device.type),
    }
    from pathlib import Path

    Path(output).parent.mkdir(parents=True, exist_ok=True)
    np.savez(output, **arrays)
    save_checkpoint(model, model_path, {"alpha": alpha, "beta": beta, "hidden": list(options["network"]["hidden"]),
                                        "activation": options["network"]["activation"], "seed": seed})
    return {"best_epoch": result.best_epoch, "chi2_train": result.best_chi2_train, "chi2_val": result.best_chi2_val,
            "seconds": result.seconds, "sum_rules": rules}
