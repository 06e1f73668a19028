"""Torch models of the top-tagging comparison, each returning one logit per jet (``sigmoid`` of it = P(top)).

Constituent models are called as ``model(x, mask)`` with ``x`` of shape (B, P, 8) in the column order of
:data:`ml4hep.toptag.preprocess.CONSTITUENT_FEATURES` (0 Δη, 1 Δφ, 2 log pT, 3 log E, 4 log pT/pT_jet,
5 log E/E_jet, 6 ΔR, 7 z = pT/Σ pT) and ``mask`` of shape (B, P) (1 for real constituents, 0 for padding, whose
rows of ``x`` are zero). The image model is called as ``model(images)`` with images of shape (B, 1, H, W).

* :class:`ParticleFlowNetwork`: deep set on all features (Komiske, Metodiev, Thaler, arXiv:1810.05165).
* :class:`EnergyFlowNetwork`: deep set on the angles only, weighted by z; infrared and collinear safe by
  construction (same reference).
* :class:`ParticleNet`: dynamic graph CNN with EdgeConv blocks on k nearest neighbours (Qu, Gouskos,
  arXiv:1902.08570), by default the size of ParticleNet-Lite.
* :class:`JetImageCNN`: a small convolutional network on jet images.
* :class:`ml4hep.toptag.recursive.RecursiveTreeNetwork`: the QCD-aware recursive network on the clustering tree
  (arXiv:1702.00748), in its own module; called as ``model(x, mask, tree_x, tree_children, tree_level)``.
* :class:`ml4hep.toptag.part.ParticleTransformer`: the Particle Transformer (arXiv:2202.03772), in its own module.

The default sizes train in about a minute on a few thousand jets on a CPU; scale them up (through
:func:`build_model`'s hyper-parameters) on a GPU. Construction draws no random numbers beyond torch's default
initialisation, so the caller's seed fixes the initial weights. All models export to ONNX with the legacy
(TorchScript) exporter (:mod:`ml4hep.onnx_export`) with a dynamic batch axis.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ml4hep.toptag.part import ParticleTransformer
from ml4hep.toptag.recursive import RecursiveTreeNetwork

__all__ = [
    "MODEL_INPUT_KINDS",
    "EnergyFlowNetwork",
    "JetImageCNN",
    "ParticleFlowNetwork",
    "ParticleNet",
    "build_model",
    "model_input_kind",
]

N_FEATURES = 8
"""Constituent features per particle (see the module docstring)."""
ANGLE_COLUMNS = slice(0, 2)
"""Columns of (Δη, Δφ) in ``x``."""
Z_COLUMN = 7
"""Column of z = pT / Σ pT in ``x``."""
_FAR = 1e9
"""Distance penalty that keeps padded particles (and each particle itself) out of the neighbour search."""


def _mlp(n_in: int, sizes: Sequence[int], dropout: float = 0.0) -> tuple[nn.Sequential, int]:
    """Linear + ReLU (+ dropout) layers; returns the network and its output width."""
    layers: list[nn.Module] = []
    for size in sizes:
        layers += [nn.Linear(n_in, int(size)), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = int(size)
    return nn.Sequential(*layers), n_in


def _masked_sum(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Σ_i weight_i values_i over the particle axis: values (B, P, L), weight (B, P) -> (B, L)."""
    return torch.bmm(weight.unsqueeze(1), values).squeeze(1)


class _DeepSet(nn.Module):
    """Common part of the PFN and EFN: per-particle network Φ, weighted sum over particles, jet network F."""

    def __init__(self, n_in: int, phi_sizes: Sequence[int], f_sizes: Sequence[int], dropout: float) -> None:
        super().__init__()
        if len(phi_sizes) == 0:
            raise ValueError("phi_sizes must have at least one layer")
        self.phi, latent = _mlp(n_in, phi_sizes)
        self.f, width = _mlp(latent, f_sizes, dropout)
        self.output = nn.Linear(width, 1)

    def _head(self, latent: torch.Tensor) -> torch.Tensor:
        return self.output(self.f(latent)).squeeze(-1)


class ParticleFlowNetwork(_DeepSet):
    """Particle Flow Network: F(Σ_i Φ(x_i)) over the real constituents (arXiv:1810.05165).

    Φ sees all per-particle features; the sum over particles makes the model invariant under permutations of the
    constituents and under extra padding. Not IRC safe (Φ sees energies and the particle multiplicity).

    Args:
        n_features: Features per constituent.
        phi_sizes: Widths of the per-particle network Φ (the last one is the latent dimension).
        f_sizes: Widths of the hidden layers of the jet-level network F.
        dropout: Dropout after each hidden layer of F.
    """

    def __init__(
        self,
        n_features: int = N_FEATURES,
        phi_sizes: Sequence[int] = (64, 64, 64),
        f_sizes: Sequence[int] = (64, 64),
        dropout: float = 0.1,
    ) -> None:
        super().__init__(int(n_features), phi_sizes, f_sizes, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape (B,) from constituents ``x`` (B, P, F) and ``mask`` (B, P)."""
        return self._head(_masked_sum(self.phi(x), mask.to(x.dtype)))


class EnergyFlowNetwork(_DeepSet):
    """Energy Flow Network: F(Σ_i z_i Φ(Δη_i, Δφ_i)) (arXiv:1810.05165).

    Φ sees only the angular coordinates and enters linearly in the momentum fractions z_i, without any
    per-particle normalisation, so the latent space is infrared safe (a particle with z = 0 adds nothing) and
    collinear safe (splitting a particle into collinear fragments with z_a + z_b = z gives the same sum). The z of
    the real constituents are normalised to sum to 1 over the mask (the preprocessing's z already do): the output
    is then a function of the constituents it is given only, not of those cut away by ``max_constituents``, whose
    pT a z normalised over the whole jet would carry in.

    Args:
        phi_sizes: Widths of the per-particle network Φ (the last one is the latent dimension).
        f_sizes: Widths of the hidden layers of the jet-level network F.
        dropout: Dropout after each hidden layer of F.
    """

    def __init__(
        self,
        phi_sizes: Sequence[int] = (64, 64, 64),
        f_sizes: Sequence[int] = (64, 64),
        dropout: float = 0.1,
    ) -> None:
        super().__init__(2, phi_sizes, f_sizes, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape (B,) from constituents ``x`` (B, P, F) and ``mask`` (B, P)."""
        z = x[..., Z_COLUMN] * mask.to(x.dtype)
        z = z / z.sum(dim=1, keepdim=True).clamp_min(torch.finfo(z.dtype).tiny)  # an empty jet keeps z = 0
        return self._head(_masked_sum(self.phi(x[..., ANGLE_COLUMNS]), z))


def _knn(points: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (B, P, k) of the k nearest other particles of each particle.

    Args:
        points: Coordinates (B, P, D).
        mask: Real-particle mask (B, P).
        k: Neighbours (at most P - 1).

    Returns:
        Neighbour indices; padded particles (and the particle itself) come only after all real ones.
    """
    squared = (points * points).sum(-1)
    distance = squared.unsqueeze(2) + squared.unsqueeze(1) - 2.0 * torch.bmm(points, points.transpose(1, 2))
    n = points.shape[1]
    eye = torch.eye(n, dtype=points.dtype, device=points.device)
    distance = distance + _FAR * (1.0 - mask).unsqueeze(1) + 2.0 * _FAR * eye
    return torch.topk(distance, k, dim=-1, largest=False, sorted=False)[1]


def _gather_neighbours(features: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Features of the neighbours: features (B, P, C), index (B, P, k) -> (B, P, k, C)."""
    p, k = index.shape[1], index.shape[2]
    flat = index.flatten(1).unsqueeze(-1).expand(-1, -1, features.shape[-1])
    return torch.gather(features, 1, flat).unflatten(1, (p, k))


def _norm_last(norm: nn.BatchNorm1d, values: torch.Tensor) -> torch.Tensor:
    """Batch normalisation over the last (channel) axis of a channels-last tensor of any rank."""
    return norm(values.flatten(0, -2)).view_as(values)


def _folded(norm: nn.BatchNorm1d, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of one linear layer equal to ``norm`` in eval mode after the bias-free linear ``weight``.

    In eval the normalisation is an affine map, so folding it into the layer before saves a pass over the
    (B, P, k, C) edge tensor, the largest of the network.
    """
    scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
    return weight * scale.unsqueeze(1), norm.bias - norm.running_mean * scale


class EdgeConvBlock(nn.Module):
    """EdgeConv block of ParticleNet with a shortcut connection (channels-last).

    For each particle i and each of its k nearest neighbours j, the edge feature (x_i, x_j - x_i) goes through a
    shared MLP (bias-free linear layers, i.e. 1×1 convolutions, each with batch normalisation and ReLU); the edges
    are averaged over the real neighbours and added to a linear shortcut of x_i, followed by ReLU.

    The first layer is linear in the edge feature, W (x_i, x_j - x_i) = (W_a - W_b) x_i + W_b x_j, so it is
    evaluated per particle and then gathered: the same function as the concatenation, k times cheaper. In eval mode
    each batch normalisation is folded into the linear layer before it (one pass less over the edges).

    Args:
        n_in: Input channels.
        channels: Output channels of the MLP layers.
        k: Nearest neighbours.
    """

    def __init__(self, n_in: int, channels: Sequence[int], k: int) -> None:
        super().__init__()
        if len(channels) == 0:
            raise ValueError("each EdgeConv block needs at least one layer")
        self.k = int(k)
        self.n_in = int(n_in)
        widths = [2 * self.n_in, *(int(c) for c in channels)]
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) for b in widths[1:])
        self.shortcut = nn.Linear(self.n_in, widths[-1], bias=False)
        self.shortcut_norm = nn.BatchNorm1d(widths[-1])
        self.out_channels = widths[-1]

    def forward(self, points: torch.Tensor, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """New features (B, P, C_out) from coordinates (B, P, D), features (B, P, C_in) and mask (B, P)."""
        if self.training:
            return self._forward(points, features, mask)
        return self._forward_folded(points, features, mask)

    def _forward(self, points: torch.Tensor, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        shortcut = _norm_last(self.shortcut_norm, self.shortcut(features))
        k = min(self.k, features.shape[1] - 1)
        if k < 1:  # a single slot per jet: no neighbours at all
            return torch.relu(shortcut) * mask.unsqueeze(-1)
        index = _knn(points, mask, k)
        w_centre, w_delta = self.linears[0].weight.split(self.n_in, dim=1)
        centre = nn.functional.linear(features, w_centre - w_delta)  # (B, P, C1)
        neighbour = nn.functional.linear(features, w_delta)  # (B, P, C1)
        edges = centre.unsqueeze(2) + _gather_neighbours(neighbour, index)  # (B, P, k, C1)
        edges = torch.relu(_norm_last(self.norms[0], edges))
        for linear, norm in zip(self.linears[1:], self.norms[1:], strict=True):
            edges = torch.relu(_norm_last(norm, linear(edges)))
        return self._pool(shortcut, edges, index, mask)

    def _forward_folded(self, points: torch.Tensor, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The eval-mode forward with every batch normalisation folded into its linear layer (the same function)."""
        shortcut = nn.functional.linear(features, *_folded(self.shortcut_norm, self.shortcut.weight))
        k = min(self.k, features.shape[1] - 1)
        if k < 1:
            return torch.relu(shortcut) * mask.unsqueeze(-1)
        index = _knn(points, mask, k)
        weight, bias = _folded(self.norms[0], self.linears[0].weight)
        w_centre, w_delta = weight.split(self.n_in, dim=1)
        centre = nn.functional.linear(features, w_centre - w_delta, bias)
        neighbour = nn.functional.linear(features, w_delta)
        edges = torch.relu(centre.unsqueeze(2) + _gather_neighbours(neighbour, index))
        for linear, norm in zip(self.linears[1:], self.norms[1:], strict=True):
            edges = torch.relu(nn.functional.linear(edges, *_folded(norm, linear.weight)))
        return self._pool(shortcut, edges, index, mask)

    @staticmethod
    def _pool(shortcut: torch.Tensor, edges: torch.Tensor, index: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean of the edges over the real neighbours, plus the shortcut, ReLU; padded particles zeroed."""
        valid = _gather_neighbours(mask.unsqueeze(-1), index)  # (B, P, k, 1)
        pooled = (edges * valid).sum(2) / valid.sum(2).clamp_min(1.0)
        return torch.relu(shortcut + pooled) * mask.unsqueeze(-1)


class ParticleNet(nn.Module):
    """ParticleNet (arXiv:1902.08570): EdgeConv blocks on a dynamic k-nearest-neighbour graph.

    The first block finds the neighbours in the (Δη, Δφ) plane, the following ones in the feature space of the
    previous block's output. Padded particles are never neighbours of real ones (a huge distance penalty), their
    features are zeroed after every block, and the global average pooling runs over the real particles only, so
    the output is invariant under permutations of the constituents and (in eval mode) under extra padding. The
    batch normalisations follow the reference implementation, so in training mode their batch statistics see
    the zeroed padded slots.

    Args:
        n_features: Features per constituent.
        k: Nearest neighbours per particle (capped at P - 1; jets with fewer real particles average over those).
        channels: Output channels of the MLP layers of each EdgeConv block.
        fc: Width of the fully connected layer.
        dropout: Dropout after the fully connected layer.
    """

    def __init__(
        self,
        n_features: int = N_FEATURES,
        k: int = 8,
        channels: Sequence[Sequence[int]] = ((32, 32, 32), (64, 64, 64)),
        fc: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if int(k) < 1:
            raise ValueError(f"k must be positive, got {k}")
        if len(channels) == 0:
            raise ValueError("ParticleNet needs at least one EdgeConv block")
        self.input_norm = nn.BatchNorm1d(int(n_features))
        blocks = []
        width = int(n_features)
        for block_channels in channels:
            blocks.append(EdgeConvBlock(width, block_channels, int(k)))
            width = blocks[-1].out_channels
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.Linear(width, int(fc)), nn.ReLU(), nn.Dropout(dropout), nn.Linear(int(fc), 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape (B,) from constituents ``x`` (B, P, F) and ``mask`` (B, P)."""
        mask = mask.to(x.dtype)
        points = x[..., ANGLE_COLUMNS]
        features = _norm_last(self.input_norm, x) * mask.unsqueeze(-1)  # (B, P, F)
        for i, block in enumerate(self.blocks):
            features = block(points if i == 0 else features, features, mask)
        pooled = features.sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
        return self.head(pooled).squeeze(-1)


class JetImageCNN(nn.Module):
    """Small convolutional network on jet images.

    Each block is a 3×3 convolution (same padding), ReLU and 2×2 max pooling (skipped once the image is down to
    one pixel); then a dense layer with ReLU and dropout, and the output logit.

    Args:
        pixels: Pixels per side of the (square) input images.
        channels: Output channels of the convolution blocks.
        dense: Width of the dense layer.
        dropout: Dropout after the dense layer.
    """

    def __init__(
        self,
        pixels: int = 40,
        channels: Sequence[int] = (16, 32, 32),
        dense: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.pixels = int(pixels)
        layers: list[nn.Module] = []
        width, size = 1, self.pixels
        for c in channels:
            layers += [nn.Conv2d(width, int(c), 3, padding=1), nn.ReLU()]
            if size >= 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            width = int(c)
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(width * size * size, int(dense)),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(int(dense), 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of shape (B,) from images (B, 1, pixels, pixels)."""
        return self.head(self.features(images)).squeeze(-1)


_MODELS: dict[str, Callable[..., nn.Module]] = {
    "pfn": ParticleFlowNetwork,
    "efn": EnergyFlowNetwork,
    "particlenet": ParticleNet,
    "cnn": JetImageCNN,
    "rnn_tree": RecursiveTreeNetwork,
    "part": ParticleTransformer,
}
MODEL_INPUT_KINDS: dict[str, str] = {
    "pfn": "constituents",
    "efn": "constituents",
    "particlenet": "constituents",
    "cnn": "image",
    "rnn_tree": "tree",
    "part": "constituents",
}
"""Model name -> ``constituents`` (called as ``model(x, mask)``), ``image`` (called as ``model(images)``) or ``tree``
(called as ``model(x, mask, tree_x, tree_children, tree_level)``)."""


def _known(name: str) -> str:
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(_MODELS)}")
    return name


def build_model(name: str, **hyper: object) -> nn.Module:
    """Construct a tagger model by name.

    Args:
        name: ``pfn``, ``efn``, ``particlenet``, ``cnn`` or ``part``.
        **hyper: Constructor arguments of the model class (lists, e.g. from a YAML config, are accepted for the
            layer sizes).

    Returns:
        The model, initialised with torch's defaults under the caller's seed.

    Raises:
        ValueError: Unknown name or unknown hyper-parameter.
    """
    cls = _MODELS[_known(name)]
    accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(hyper) - set(accepted))
    if unknown:
        raise ValueError(
            f"unknown hyper-parameter(s) {', '.join(unknown)} for model {name!r}; accepted: {', '.join(accepted)}"
        )
    return cls(**hyper)


def model_input_kind(name: str) -> str:
    """``constituents`` (called as ``model(x, mask)``), ``image`` (``model(images)``) or ``tree`` (with the trees).

    Raises:
        ValueError: Unknown name.
    """
    return MODEL_INPUT_KINDS[_known(name)]
