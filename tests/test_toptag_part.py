"""Particle Transformer: pair features, permutation and padding invariance, ONNX, registry, weaver-core agreement."""

from __future__ import annotations

import importlib.util
import math
import warnings

import numpy as np
import pytest
import torch

from ml4hep.onnx_export import check_onnx_matches
from ml4hep.toptag.models import build_model, model_input_kind
from ml4hep.toptag.part import (
    PAIR_FEATURES,
    ParticleTransformer,
    four_momenta,
    load_weaver_state_dict,
    pair_features,
    weaver_key,
)
from ml4hep.toptag.taggers import TAGGERS, tagger_hyper

SMALL = {"embed_dims": (16, 16), "pair_embed_dims": (8,), "num_heads": 2, "num_layers": 2, "dropout": 0.0}


def make_jets(batch: int = 6, slots: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded jets in the preprocessing's column order (pT of a few GeV to ~100 GeV, angles within R ~ 0.8)."""
    generator = torch.Generator().manual_seed(seed)
    counts = torch.randint(2, slots + 1, (batch,), generator=generator)
    counts[0] = slots
    mask = (torch.arange(slots)[None, :] < counts[:, None]).float()
    x = torch.randn(batch, slots, 8, generator=generator)
    x[..., 0:2] *= 0.3
    x[..., 2] = torch.rand(batch, slots, generator=generator) * 3.0 + 1.0  # log pT
    pt = torch.exp(x[..., 2]) * mask
    x[..., 6] = torch.hypot(x[..., 0], x[..., 1])
    x[..., 7] = pt / pt.sum(1, keepdim=True)
    return x * mask[..., None], mask


def trained_eval(x: torch.Tensor, mask: torch.Tensor, **hyper) -> ParticleTransformer:
    """A ParT in eval mode whose batch-norm running statistics are not the initial ones."""
    torch.manual_seed(3)
    model = ParticleTransformer(**{**SMALL, **hyper}).train()
    with torch.no_grad():
        for _ in range(3):
            model(x, mask)
    return model.eval()


def test_pair_features_of_two_massless_particles():
    pt1, pt2, eta1, eta2, phi1, phi2 = 30.0, 12.0, 0.25, -0.15, -0.1, 0.3
    x = torch.zeros(1, 3, 8, dtype=torch.float64)  # the third slot is padding
    x[0, 0, :3] = torch.tensor([eta1, phi1, math.log(pt1)], dtype=torch.float64)
    x[0, 1, :3] = torch.tensor([eta2, phi2, math.log(pt2)], dtype=torch.float64)
    mask = torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64)
    features = pair_features(x, mask)
    d_eta, d_phi = eta1 - eta2, phi1 - phi2
    delta_r = math.hypot(d_eta, d_phi)
    m2 = 2 * pt1 * pt2 * (math.cosh(d_eta) - math.cos(d_phi))
    expected = [math.log(pt2 * delta_r), math.log(pt2 / (pt1 + pt2)), math.log(delta_r), math.log(m2)]
    assert len(PAIR_FEATURES) == 4
    np.testing.assert_allclose(features[0, 0, 1].numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(features[0, 1, 0].numpy(), expected, rtol=1e-12)  # symmetric
    # The same mass from the four-momenta: (p1 + p2)^2 = (E1 + E2)^2 - |p1 + p2|^2.
    total = four_momenta(x, mask)[0, :2].sum(0)
    assert float(total[3] ** 2 - (total[:3] ** 2).sum()) == pytest.approx(m2, rel=1e-10)
    # A particle with itself and any pair with the padding sit at the floor, finite.
    assert features[0, 0, 0, 0] == pytest.approx(math.log(1e-8))
    assert features[0, 0, 2, 3] == pytest.approx(math.log(1e-8))
    assert torch.isfinite(features).all()


def test_four_momenta_are_massless_and_zero_for_padding():
    x, mask = make_jets(seed=1)
    p = four_momenta(x.double(), mask.double())
    m2 = p[..., 3] ** 2 - (p[..., :3] ** 2).sum(-1)
    np.testing.assert_allclose(m2.numpy(), 0.0, atol=1e-9)
    np.testing.assert_allclose(torch.hypot(p[..., 0], p[..., 1]).numpy(), (torch.exp(x[..., 2]) * mask).numpy())
    assert (p[mask == 0] == 0).all()


@torch.no_grad()
def test_output_invariant_under_permutation_of_the_constituents():
    x, mask = make_jets(seed=2)
    model = trained_eval(x, mask)
    reference = model(x, mask)
    generator = torch.Generator().manual_seed(5)
    perm = torch.randperm(x.shape[1], generator=generator)  # mixes real and padded slots
    shuffled = model(x[:, perm], mask[:, perm])
    np.testing.assert_allclose(shuffled.numpy(), reference.numpy(), atol=2e-5, rtol=0)
    assert reference.std() > 1e-3  # not trivially constant


@torch.no_grad()
def test_padded_entries_do_not_change_the_output():
    x, mask = make_jets(seed=3)
    model = trained_eval(x, mask)
    reference = model(x, mask)
    wider_x = torch.cat((x, torch.zeros(x.shape[0], 7, 8)), dim=1)
    wider_mask = torch.cat((mask, torch.zeros(mask.shape[0], 7)), dim=1)
    np.testing.assert_allclose(model(wider_x, wider_mask).numpy(), reference.numpy(), atol=2e-5, rtol=0)
    junk = torch.where(mask[..., None] > 0, x, torch.randn_like(x) * 300.0)  # rubbish in the padded rows
    np.testing.assert_allclose(model(junk, mask).numpy(), reference.numpy(), atol=2e-5, rtol=0)


@torch.no_grad()
def test_training_mode_batch_norm_ignores_padding():
    x, mask = make_jets(seed=4)
    torch.manual_seed(0)
    model = ParticleTransformer(**SMALL).train()  # dropout 0: the training-mode output is deterministic
    reference = model(x, mask)
    wider = model(torch.cat((x, torch.zeros(6, 5, 8)), 1), torch.cat((mask, torch.zeros(6, 5)), 1))
    np.testing.assert_allclose(wider.numpy(), reference.numpy(), atol=2e-5, rtol=0)


def test_backward_gives_finite_gradients():
    x, mask = make_jets(seed=6)
    torch.manual_seed(0)
    model = ParticleTransformer(**SMALL).train()
    model(x, mask).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_the_interactions_matter():
    """The attention bias is used: scaling the pair embedding's output changes the prediction."""
    x, mask = make_jets(seed=7)
    model = trained_eval(x, mask)
    with torch.no_grad():
        reference = model(x, mask)
        model.pair_embed[-1].weight.mul_(3.0)  # a constant shift would cancel in the softmax
        assert (model(x, mask) - reference).abs().max() > 1e-4


def test_onnx_export_matches_torch(tmp_path):
    x, mask = make_jets(batch=8, seed=8)
    model = trained_eval(x, mask)
    example = make_jets(batch=3, seed=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        difference = check_onnx_matches(
            model, (x, mask), tmp_path / "part.onnx", ["x", "mask"], atol=1e-4, example_inputs=example
        )
    assert 0.0 <= difference <= 1e-4


def test_registry_and_config():
    assert isinstance(build_model("part", embed_dims=[8], pair_embed_dims=[4], num_heads=2), ParticleTransformer)
    assert model_input_kind("part") == "constituents"
    assert TAGGERS.is_network("part")
    with pytest.raises(ValueError, match="multiple of the 3 attention heads"):
        ParticleTransformer(embed_dims=(16,), num_heads=3)
    toptag = {"training": {"epochs": 2, "learning_rate": 0.01}, "models": {"part": {"num_heads": 2, "dropout": None}}}
    assert tagger_hyper(toptag, "part") == {"epochs": 2, "learning_rate": 0.01, "num_heads": 2}


def test_weaver_names_cover_every_parameter():
    keys = [weaver_key(k) for k in ParticleTransformer(num_layers=2, num_cls_layers=2).state_dict()]
    assert len(set(keys)) == len(keys)
    assert "pair_embed.embed.0.running_var" in keys and "cls_blocks.1.attn.out_proj.bias" in keys
    assert {"cls_token", "norm.weight", "fc.0.weight", "blocks.1.w_resid", "blocks.0.c_attn"} <= set(keys)


@pytest.mark.skipif(
    importlib.util.find_spec("weaver") is None,
    reason="weaver-core is not installed (pip install --no-deps weaver-core==0.5.3)",
)
@torch.no_grad()
def test_same_outputs_as_weaver_core_for_the_same_weights():
    from weaver.nn.model.ParticleTransformer import ParticleTransformer as WeaverParT

    sizes = {"embed_dims": (16, 16), "pair_embed_dims": (8, 8), "num_heads": 2, "num_layers": 2, "num_cls_layers": 2}
    torch.manual_seed(0)
    weaver = WeaverParT(input_dim=8, num_classes=1, trim=False, **sizes).double()
    x, mask = make_jets(batch=16, seed=10)
    x, mask = x.double(), mask.double()
    v = four_momenta(x, mask).transpose(1, 2)
    weaver.train()
    for _ in range(2):  # non-trivial running statistics
        weaver(x.transpose(1, 2), v=v, mask=mask.unsqueeze(1))
    weaver.eval()
    ours = ParticleTransformer(**sizes).double().eval()
    load_weaver_state_dict(ours, weaver.state_dict())
    expected = weaver(x.transpose(1, 2), v=v, mask=mask.unsqueeze(1)).squeeze(-1)
    np.testing.assert_allclose(ours(x, mask).numpy(), expected.numpy(), atol=1e-5, rtol=0)
