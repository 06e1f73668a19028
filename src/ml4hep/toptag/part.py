"""Particle Transformer (ParT) for top tagging (Qu, Li, Qian, arXiv:2202.03772).

The model is called as ``model(x, mask)`` like the other constituent taggers (:mod:`ml4hep.toptag.models`): ``x`` of
shape (B, P, 8) in the column order of :data:`ml4hep.toptag.preprocess.CONSTITUENT_FEATURES` and ``mask`` (B, P).

* **Particle embedding**: batch normalisation of the eight features, then (LayerNorm, Linear, GELU) per layer.
* **Interaction features** of every pair (i, j), from the constituents' four-momenta (:func:`four_momenta`,
  massless, in the (Δη, Δφ) frame of the preprocessing): ln kT, ln z, ln ΔR and ln m² (:func:`pair_features`),
  embedded by 1×1 layers into one attention bias per head.
* **Particle-attention blocks**: pre-norm multi-head self-attention with the interaction matrix added to the
  attention logits, then a GELU feed-forward network; with the paper's extra normalisations (after the attention
  and inside the feed-forward network) and the learned per-head and residual scales.
* **Class-attention blocks** (CaiT, arXiv:2103.17239): a learned class token attends to the particles (and itself).
* A final LayerNorm and one output logit.

Padded constituents never act as keys (their attention logits get a large negative bias), and in training mode the
batch normalisations of the two embeddings see only the real particles and real pairs, so the output does not
depend on the padding (nor, by the attention's symmetry, on the order of the constituents).

The layer layout is that of weaver-core's ``ParticleTransformer`` (version 1, the paper's); :func:`weaver_key` maps
each of our parameter names to weaver's, so that :func:`load_weaver_state_dict` can run weaver's weights here
(``benchmarks/bench_weaver.py`` checks that the two then agree). Differences that leave trained models
interchangeable: the masked batch-norm statistics in training (weaver's sparse pair embedding does the same for the
pairs), a finite instead of an infinite mask, and m² from the massless formula instead of E² - p² of the summed
four-vector (the same value without float32 cancellation). The class-token initialisation draws from torch's
generator, so the caller's seed fixes it like the other weights.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch
from torch import nn

__all__ = [
    "PAIR_FEATURES",
    "ParticleTransformer",
    "four_momenta",
    "load_weaver_state_dict",
    "pair_features",
    "weaver_key",
]

PAIR_FEATURES = ("ln_kt", "ln_z", "ln_delta_r", "ln_m2")
"""Interaction features of a pair, in the order of the last axis of :func:`pair_features`."""
DELTA_ETA, DELTA_PHI, LOG_PT = 0, 1, 2
"""Columns of Δη, Δφ and log pT in ``x``."""
EPSILON = 1e-8
"""Floor of the arguments of the logarithms (a particle paired with itself has ΔR = kT = m = 0)."""
N_FEATURES = 8
"""Features per constituent (:data:`ml4hep.toptag.preprocess.CONSTITUENT_FEATURES`; :mod:`ml4hep.toptag.models`
imports this module, so the count is not imported from there)."""
_MASKED = -1e9
"""Attention-logit bias of a padded key: exp() of it is exactly 0 in float32, and unlike -inf it exports cleanly."""


def four_momenta(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Massless four-momenta (px, py, pz, E) of the constituents in the jet's (Δη, Δφ) frame, zero for padding.

    Args:
        x: Constituent features (B, P, 8).
        mask: Real-particle mask (B, P).

    Returns:
        Tensor (B, P, 4); its pair masses are those of the lab frame for massless constituents (longitudinal
        boosts and azimuthal rotations leave them unchanged).

    Example:
        >>> x = torch.zeros(1, 1, 8); x[0, 0, LOG_PT] = torch.log(torch.tensor(2.0))
        >>> four_momenta(x, torch.ones(1, 1)).tolist()
        [[[2.0, 0.0, 0.0, 2.0]]]
    """
    pt = torch.exp(x[..., LOG_PT]) * mask.to(x.dtype)
    eta, phi = x[..., DELTA_ETA], x[..., DELTA_PHI]
    return torch.stack((pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta), pt * torch.cosh(eta)), dim=-1)


def _sinh(values: torch.Tensor) -> torch.Tensor:
    """The hyperbolic sine from exponentials: the legacy ONNX exporter has no symbolic for ``aten::sinh``."""
    return 0.5 * (torch.exp(values) - torch.exp(-values))


def _interactions(pt_i: torch.Tensor, pt_j: torch.Tensor, d_eta: torch.Tensor, d_phi: torch.Tensor) -> torch.Tensor:
    """The features ln kT, ln z, ln ΔR, ln m² (last axis) of pairs of momenta pT_i, pT_j and separation Δy, Δφ."""
    pt_min = torch.minimum(pt_i, pt_j)
    # The features are functions of the data only (never differentiated), so sqrt at ΔR = 0 is harmless.
    delta_r = torch.sqrt(d_eta * d_eta + d_phi * d_phi)
    ln_kt = torch.log((pt_min * delta_r).clamp_min(EPSILON))
    ln_z = torch.log((pt_min / (pt_i + pt_j).clamp_min(EPSILON)).clamp_min(EPSILON))
    ln_delta_r = torch.log(delta_r.clamp_min(EPSILON))
    half_angles = _sinh(0.5 * d_eta) ** 2 + torch.sin(0.5 * d_phi) ** 2
    ln_m2 = torch.log((4.0 * pt_i * pt_j * half_angles).clamp_min(EPSILON))
    return torch.stack((ln_kt, ln_z, ln_delta_r, ln_m2), dim=-1)


def _kinematics(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """pT, Δη, Δφ of the constituents, zero for padding whatever its row holds."""
    real = mask > 0
    zero = torch.zeros_like(x[..., 0])
    pt = torch.where(real, torch.exp(x[..., LOG_PT]), zero)
    return pt, torch.where(real, x[..., DELTA_ETA], zero), torch.where(real, x[..., DELTA_PHI], zero)


def pair_features(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The interaction features of arXiv:2202.03772 for every pair of constituents.

    For massless four-momenta with transverse momenta pT_i, pT_j, rapidity difference Δy and azimuthal difference
    Δφ: ΔR = sqrt(Δy² + Δφ²), kT = min(pT_i, pT_j) ΔR, z = min(pT_i, pT_j) / (pT_i + pT_j) and
    m² = (p_i + p_j)² = 2 pT_i pT_j (cosh Δy - cos Δφ), evaluated as 4 pT_i pT_j (sinh²(Δy/2) + sin²(Δφ/2)), which
    does not cancel for collinear pairs; each enters as the logarithm of its value floored at :data:`EPSILON`. A pair
    with a padded slot gets the floor in ln kT, ln z and ln m², whatever the padded row holds. With the
    preprocessing's rotation of the (Δη, Δφ) plane, ΔR is unchanged and m² holds to O(ΔR⁴).

    Args:
        x: Constituent features (B, P, 8).
        mask: Real-particle mask (B, P).

    Returns:
        Tensor (B, P, P, 4) in the order of :data:`PAIR_FEATURES`, symmetric in (i, j).

    Example:
        >>> x = torch.zeros(1, 2, 8); x[0, 1, DELTA_PHI] = 0.5
        >>> features = pair_features(x, torch.ones(1, 2))  # two pT = 1 particles 0.5 apart in φ
        >>> [round(v, 4) for v in features[0, 0, 1].tolist()]
        [-0.6931, -0.6931, -0.6931, -1.4072]
    """
    pt, eta, phi = _kinematics(x, mask)
    d_eta = eta.unsqueeze(2) - eta.unsqueeze(1)
    d_phi = phi.unsqueeze(2) - phi.unsqueeze(1)
    return _interactions(pt.unsqueeze(2), pt.unsqueeze(1), d_eta, d_phi)


def _real_only(network: nn.Module, values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``network`` applied to the last axis of ``values`` (..., C); in training on the ``keep`` entries only.

    Only the batch-norm statistics make the difference: in training they then see only real particles (pairs); in
    eval the dense call is the same function on the kept entries and is what the ONNX export traces.
    """
    if not network.training:
        return network(values.flatten(0, -2)).unflatten(0, values.shape[:-1])
    kept = network(values[keep])
    out = kept.new_zeros((*values.shape[:-1], kept.shape[-1]))
    out[keep] = kept
    return out


def _particle_embedding(n_features: int, dims: Sequence[int]) -> nn.Sequential:
    """BatchNorm of the features, then (LayerNorm, Linear, GELU) per layer (weaver's ``Embed``)."""
    layers: list[nn.Module] = [nn.BatchNorm1d(n_features)]
    width = n_features
    for dim in dims:
        layers += [nn.LayerNorm(width), nn.Linear(width, int(dim)), nn.GELU()]
        width = int(dim)
    return nn.Sequential(*layers)


def _pair_embedding(dims: Sequence[int], heads: int) -> nn.Sequential:
    """BatchNorm of the pair features, then (Linear, BatchNorm, GELU) per layer, the last one (to the heads) linear."""
    layers: list[nn.Module] = [nn.BatchNorm1d(len(PAIR_FEATURES))]
    width = len(PAIR_FEATURES)
    for dim in (*(int(d) for d in dims), int(heads)):
        layers += [nn.Linear(width, dim), nn.BatchNorm1d(dim), nn.GELU()]
        width = dim
    return nn.Sequential(*layers[:-1])  # the bias is added to the logits before any activation


class _AttentionBlock(nn.Module):
    """One ParT block: normalised multi-head attention with scaled heads, then the normalised feed-forward network.

    Args:
        dim: Token width.
        heads: Attention heads (``dim`` must be a multiple).
        ffn_ratio: Width of the feed-forward network over ``dim``.
        dropout: Dropout on the attention weights, after the attention, in and after the feed-forward network.
    """

    def __init__(self, dim: int, heads: int, ffn_ratio: int, dropout: float) -> None:
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"the embedding width {dim} is not a multiple of the {heads} attention heads")
        self.heads, self.head_dim = heads, dim // heads
        self.attention_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attention_out = nn.Linear(dim, dim)
        self.head_scale = nn.Parameter(torch.ones(heads))
        self.post_attention_norm = nn.LayerNorm(dim)
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn_in = nn.Linear(dim, ffn_ratio * dim)
        self.ffn_hidden_norm = nn.LayerNorm(ffn_ratio * dim)
        self.ffn_out = nn.Linear(ffn_ratio * dim, dim)
        self.residual_scale = nn.Parameter(torch.ones(dim))
        self.attention_dropout = nn.Dropout(dropout)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, values: torch.Tensor) -> torch.Tensor:
        return values.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)  # (B, H, T, d)

    def _attend(self, query: torch.Tensor, context: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Attention of ``query`` (B, T, D) over ``context`` (B, S, D) with logit ``bias`` (B, H or 1, T or 1, S)."""
        dim = query.shape[-1]
        w_q, w_kv = self.qkv.weight.split((dim, 2 * dim))
        b_q, b_kv = self.qkv.bias.split((dim, 2 * dim))
        q = self._heads(nn.functional.linear(query, w_q, b_q))
        k, v = (self._heads(t) for t in nn.functional.linear(context, w_kv, b_kv).chunk(2, dim=-1))
        dropout = self.attention_dropout.p if self.training else 0.0
        attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout)  # (B,H,T,d)
        attended = attended * self.head_scale.view(1, -1, 1, 1)
        return self.attention_out(attended.transpose(1, 2).flatten(2))

    def forward(self, tokens: torch.Tensor, bias: torch.Tensor, cls: torch.Tensor | None = None) -> torch.Tensor:
        """Self-attention of ``tokens`` (B, P, D), or with ``cls`` (B, 1, D) the class token's update over both.

        ``bias`` is added to the attention logits: the masked interaction matrix (B, H, P, P) for self-attention,
        the key mask (B, 1, 1, 1 + P) for class attention.
        """
        if cls is None:
            residual = tokens
            normed = self.attention_norm(tokens)
            attended = self._attend(normed, normed, bias)
        else:
            # CaiT class attention: the query is the class token as it is, the keys its normed concatenation.
            residual = cls
            attended = self._attend(cls, self.attention_norm(torch.cat((cls, tokens), dim=1)), bias)
        hidden = residual + self.dropout(self.post_attention_norm(attended))
        ffn = self.dropout(nn.functional.gelu(self.ffn_in(self.ffn_norm(hidden))))
        ffn = self.dropout(self.ffn_out(self.ffn_hidden_norm(ffn)))
        return ffn + self.residual_scale * hidden


class ParticleTransformer(nn.Module):
    """Particle Transformer (arXiv:2202.03772): particle attention biased by pair interactions, class attention.

    The defaults are a small model (41k parameters) that trains on a CPU; the paper's is
    ``embed_dims=(128, 512, 128)``, ``pair_embed_dims=(64, 64, 64)``, ``num_heads=8``, ``num_layers=8``,
    ``num_cls_layers=2`` (2.1M parameters).

    Args:
        n_features: Features per constituent.
        embed_dims: Widths of the particle embedding (the last one is the token width).
        pair_embed_dims: Hidden widths of the pair embedding (its output has one channel per head).
        num_heads: Attention heads.
        num_layers: Particle-attention blocks.
        num_cls_layers: Class-attention blocks.
        ffn_ratio: Feed-forward width over the token width.
        dropout: Dropout in the particle-attention blocks (the class-attention blocks have none, as in the paper).

    Example:
        >>> torch.manual_seed(0) and None
        >>> model = ParticleTransformer(embed_dims=(16,), pair_embed_dims=(8,), num_heads=2, num_layers=1).eval()
        >>> model(torch.zeros(3, 5, 8), torch.ones(3, 5)).shape
        torch.Size([3])
    """

    def __init__(
        self,
        n_features: int = N_FEATURES,
        embed_dims: Sequence[int] = (32, 32),
        pair_embed_dims: Sequence[int] = (16, 16),
        num_heads: int = 4,
        num_layers: int = 2,
        num_cls_layers: int = 1,
        ffn_ratio: int = 4,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if len(embed_dims) == 0:
            raise ValueError("embed_dims needs at least one layer")
        if int(num_cls_layers) < 1:
            raise ValueError(f"ParT needs at least one class-attention block, got num_cls_layers={num_cls_layers}")
        width, heads = int(embed_dims[-1]), int(num_heads)
        self.particle_embed = _particle_embedding(int(n_features), embed_dims)
        self.pair_embed = _pair_embedding(pair_embed_dims, heads)
        self.blocks = nn.ModuleList(
            _AttentionBlock(width, heads, int(ffn_ratio), float(dropout)) for _ in range(int(num_layers))
        )
        self.cls_blocks = nn.ModuleList(
            _AttentionBlock(width, heads, int(ffn_ratio), 0.0) for _ in range(int(num_cls_layers))
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.norm = nn.LayerNorm(width)
        self.output = nn.Linear(width, 1)

    def _interaction(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The embedded pair features (B, H, P, P), zero for pairs with a padded slot.

        The embedding runs on the real pairs i <= j only and is mirrored (the features are symmetric): in training
        its batch-norm statistics see each real pair once, as weaver's sparse pair embedding; in eval it is the
        same function as the dense embedding of every pair, which is what an ONNX export traces (no data-dependent
        shapes) and costs (P / real particles)² × 2 times more.
        """
        if torch.onnx.is_in_onnx_export() or torch.jit.is_tracing():
            dense = self.pair_embed(pair_features(x, mask).flatten(0, -2)).unflatten(0, (*mask.shape, mask.shape[1]))
            pair_mask = (mask.unsqueeze(2) * mask.unsqueeze(1)).unsqueeze(-1)
            return (dense * pair_mask).permute(0, 3, 1, 2)
        slots = mask.shape[1]
        upper = torch.ones(slots, slots, dtype=torch.bool, device=mask.device).triu()
        real = mask > 0
        batch, i, j = torch.nonzero(real.unsqueeze(2) & real.unsqueeze(1) & upper, as_tuple=True)
        pt, eta, phi = _kinematics(x, mask)
        embedded = self.pair_embed(
            _interactions(pt[batch, i], pt[batch, j], eta[batch, i] - eta[batch, j], phi[batch, i] - phi[batch, j])
        )
        out = embedded.new_zeros((*mask.shape, slots, embedded.shape[-1]))
        out = out.index_put((batch, i, j), embedded).index_put((batch, j, i), embedded)
        return out.permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape (B,) from constituents ``x`` (B, P, F) and ``mask`` (B, P)."""
        mask = mask.to(x.dtype)
        real = mask > 0
        # where, not a product with the mask: whatever a padded row holds (even inf) cannot leak into the tokens
        tokens = torch.where(real.unsqueeze(-1), _real_only(self.particle_embed, x, real), 0.0)
        key_bias = (1.0 - mask) * _MASKED  # (B, P)
        bias = self._interaction(x, mask) + key_bias[:, None, None, :]  # (B, H, P, P)
        for block in self.blocks:
            tokens = block(tokens, bias)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        cls_bias = torch.cat((torch.zeros_like(key_bias[:, :1]), key_bias), dim=1)[:, None, None, :]
        for block in self.cls_blocks:
            cls = block(tokens, cls_bias, cls=cls)
        return self.output(self.norm(cls.squeeze(1))).squeeze(-1)


_WEAVER_BLOCK_NAMES = {
    "attention_norm": "pre_attn_norm",
    "qkv": "attn.in_proj",
    "attention_out": "attn.out_proj",
    "head_scale": "c_attn",
    "post_attention_norm": "post_attn_norm",
    "ffn_norm": "pre_fc_norm",
    "ffn_in": "fc1",
    "ffn_hidden_norm": "post_fc_norm",
    "ffn_out": "fc2",
    "residual_scale": "w_resid",
}


def weaver_key(key: str) -> str:
    """The name in weaver-core's ``ParticleTransformer`` (version 1, ``fc_params=()``) of one of our parameters.

    Example:
        >>> weaver_key("blocks.3.qkv.weight"), weaver_key("particle_embed.0.running_mean")
        ('blocks.3.attn.in_proj.weight', 'embed.input_bn.running_mean')
    """
    embed = re.fullmatch(r"particle_embed\.(\d+)\.(.+)", key)
    if embed:
        index, rest = int(embed[1]), embed[2]
        return f"embed.input_bn.{rest}" if index == 0 else f"embed.embed.{index - 1}.{rest}"
    pair = re.fullmatch(r"pair_embed\.(.+)", key)
    if pair:
        return f"pair_embed.embed.{pair[1]}"
    block = re.fullmatch(r"((?:cls_)?blocks\.\d+)\.([a-z_]+)(\..+)?", key)
    if block:
        return f"{block[1]}.{_WEAVER_BLOCK_NAMES[block[2]]}{block[3] or ''}"
    return {"output.weight": "fc.0.weight", "output.bias": "fc.0.bias"}.get(key, key)


def load_weaver_state_dict(model: ParticleTransformer, weaver_state: Mapping[str, torch.Tensor]) -> None:
    """Load the weights of a weaver-core ParT (same sizes, one output) into ``model``.

    weaver's 1×1 convolutions of the pair embedding have weights (out, in, 1) where ours are linear layers
    (out, in); every other tensor keeps its shape.

    Raises:
        ValueError: A parameter of ``model`` is missing in ``weaver_state`` or has another number of elements.
    """
    ours = model.state_dict()
    loaded = {}
    for key, tensor in ours.items():
        source = weaver_state.get(weaver_key(key))
        if source is None or source.numel() != tensor.numel():
            found = None if source is None else tuple(source.shape)
            raise ValueError(f"weaver state lacks {weaver_key(key)} of shape {tuple(tensor.shape)} (found {found})")
        loaded[key] = source.reshape(tensor.shape).to(tensor.dtype)
    model.load_state_dict(loaded)
