"""The torch network of the parameterised ratio estimators: ln r̂(x | θ, θ0) = g(x, ln θ) − g(x, 0) − c(θ).

Subtracting g at θ0 makes r̂(x | θ0, θ0) = 1 for every x by construction, as the true ratio is. The calibration
c(θ) = ln E_θ0[exp(g(x, ln θ) − g(x, 0))], measured on the nominal training events after the training on a grid of
θ and interpolated in ln θ, makes r̂ a normalised ratio, ∫ r̂(x | θ, θ0) p(x | θ0) dx = 1, as the true one is: a
regression on the joint ratio (ROLR, RASCAL) otherwise inherits the normalisation of its training sample's
heavy-tailed weights (a few per cent for a thousand events), and the expected −2 ln r of N events multiplies any
offset of ln r̂ by 2N. The head turns ln r̂ into what an estimator's loss compares with its target
(:mod:`ml4hep.sbi.estimators`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

LOG_RATIO_CLAMP = 10.0
"""|ln r̂| is clamped here inside the ratio heads: exp of a wild early-training output would overflow the loss."""

HEADS = ("logit", "ratio", "ratio_and_score", "logit_and_score")

CALIBRATION_POINTS = 33
"""θ values (log-spaced over the training range) at which the normalisation c(θ) is measured."""


class RatioModule(nn.Module):
    """An MLP g(standardised x, ln θ) and a head.

    Args:
        n_inputs: Number of observables.
        hidden: Widths of the hidden layers (SiLU: smooth, so that the score ∂ ln r̂ / ∂θ is too).
        mean: Mean of each observable in the training events.
        std: Their spread.
        head: ``logit`` (ln r̂, for cross-entropies), ``ratio`` (r̂ for θ0 examples, 1/r̂ for θ examples: ROLR's
            squared errors), ``ratio_and_score`` (that and the score t̂ = ∂ ln r̂ / ∂θ, two columns: RASCAL) or
            ``logit_and_score`` (ln r̂ and t̂: ALICES and CASCAL).
        theta_range: Range of θ of the calibration grid.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: Sequence[int],
        mean: Sequence[float],
        std: Sequence[float],
        head: str,
        theta_range: Sequence[float] = (0.5, 2.0),
    ):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; known: {', '.join(HEADS)}")
        self.head = head
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        log_range = np.log(np.asarray(theta_range, dtype=np.float64))
        grid = torch.as_tensor(np.linspace(log_range[0], log_range[1], CALIBRATION_POINTS), dtype=torch.float32)
        self.register_buffer("calibration_log_theta", grid)
        # zero while training (the losses see the raw ratio); set by calibrate() afterwards, saved with the weights
        self.register_buffer("calibration", torch.zeros(CALIBRATION_POINTS))
        layers: list[nn.Module] = []
        width = int(n_inputs) + 1
        for size in hidden:
            layers += [nn.Linear(width, int(size)), nn.SiLU()]
            width = int(size)
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def raw_log_ratio(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """g(x, ln θ) − g(x, 0) per example (before the calibration)."""
        z = (x - self.mean) / self.std
        log_theta = torch.log(theta)[:, None]
        at_theta = self.mlp(torch.cat([z, log_theta], dim=1))
        at_reference = self.mlp(torch.cat([z, torch.zeros_like(log_theta)], dim=1))
        return (at_theta - at_reference).squeeze(1)

    def log_ratio(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """The estimate ln r̂(x | θ, θ0) per example: the raw ratio minus c(θ) (linear in ln θ, flat outside)."""
        grid, values = self.calibration_log_theta, self.calibration
        log_theta = torch.log(theta).contiguous()
        low = (torch.searchsorted(grid, log_theta) - 1).clamp(0, len(grid) - 2)
        fraction = ((log_theta - grid[low]) / (grid[low + 1] - grid[low])).clamp(0.0, 1.0)
        shift = values[low] * (1 - fraction) + values[low + 1] * fraction
        return self.raw_log_ratio(x, theta) - shift

    def forward(self, x: torch.Tensor, theta: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The head's output per example (``y``: 0 for a θ0 example, 1 for a θ example)."""
        if self.head == "logit":
            return self.log_ratio(x, theta)
        if self.head == "ratio":
            return self._ratio_term(self.log_ratio(x, theta), y)
        # the score needs d/dθ even in the training loop's no-grad validation pass; a graph through it only when
        # the loss is differentiated (training)
        differentiable = torch.is_grad_enabled()
        with torch.enable_grad():
            theta = theta.detach().requires_grad_(True)
            log_r = self.log_ratio(x, theta)
            (score,) = torch.autograd.grad(log_r.sum(), theta, create_graph=differentiable)
        first = log_r if self.head == "logit_and_score" else self._ratio_term(log_r, y)
        return torch.stack([first, score], dim=1)

    @staticmethod
    def _ratio_term(log_r: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        clamped = log_r.clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
        return torch.exp(torch.where(y == 0, clamped, -clamped))


@torch.no_grad()
def calibrate(network: RatioModule, x: np.ndarray) -> float:
    """Set the network's c(θ) from nominal events ``x`` (θ0 events); returns the largest |c| (a health check)."""
    network.eval()
    xs = torch.as_tensor(np.asarray(x, dtype=np.float32))
    values = []
    for log_theta in network.calibration_log_theta.tolist():
        theta = torch.full((len(xs),), float(np.exp(log_theta)))
        raw = network.raw_log_ratio(xs, theta).double()
        values.append(float(torch.logsumexp(raw, 0) - np.log(len(xs))))
    network.calibration.copy_(torch.as_tensor(values, dtype=torch.float32))
    return float(np.max(np.abs(values)))


@torch.no_grad()
def predict_log_ratio(network: RatioModule, x: np.ndarray, theta: np.ndarray, batch_size: int = 65536) -> np.ndarray:
    """The estimate ln r̂(x | θ, θ0) of every example, in batches, in eval mode on the CPU."""
    network.eval()
    out = []
    for begin in range(0, len(x), batch_size):
        part = slice(begin, begin + batch_size)
        xs = torch.as_tensor(np.asarray(x[part], dtype=np.float32))
        thetas = torch.as_tensor(np.asarray(theta[part], dtype=np.float32))
        out.append(network.log_ratio(xs, thetas).numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)
