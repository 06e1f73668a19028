"""Top-tagging models: shapes, permutation and padding invariance, IRC safety of the EFN, the registry."""

from __future__ import annotations

import pytest
import torch

from ml4hep.toptag.models import (
    EnergyFlowNetwork,
    JetImageCNN,
    ParticleFlowNetwork,
    ParticleNet,
    build_model,
    model_input_kind,
)

CONSTITUENT_MODELS = ("pfn", "efn", "particlenet")
ALL_MODELS = (*CONSTITUENT_MODELS, "cnn")
N_FEATURES = 8


def make_jets(batch: int = 6, slots: int = 12, seed: int = 0, min_real: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Random zero-padded jets: features in the preprocessing's column order, z summing to 1 per jet."""
    generator = torch.Generator().manual_seed(seed)
    counts = torch.randint(min_real, slots + 1, (batch,), generator=generator)
    counts[0] = slots  # one full jet
    mask = (torch.arange(slots)[None, :] < counts[:, None]).float()
    x = torch.randn(batch, slots, N_FEATURES, generator=generator)
    x[..., 0:2] *= 0.4
    pt = torch.rand(batch, slots, generator=generator) * mask + 1e-3 * mask
    x[..., 7] = pt / pt.sum(1, keepdim=True)
    x[..., 6] = torch.hypot(x[..., 0], x[..., 1])
    return x * mask[..., None], mask


def trained_eval(name: str, x: torch.Tensor, mask: torch.Tensor, **hyper) -> torch.nn.Module:
    """A model in eval mode whose batch-norm running statistics are not the trivial initial ones."""
    torch.manual_seed(1)
    model = build_model(name, **hyper)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(x, mask)
    return model.eval()


def shuffle_real(x: torch.Tensor, mask: torch.Tensor, seed: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Permute the real constituents of each jet among themselves; the padding stays at the end."""
    generator = torch.Generator().manual_seed(seed)
    x = x.clone()
    for jet in range(len(x)):
        n = int(mask[jet].sum())
        x[jet, :n] = x[jet, torch.randperm(n, generator=generator)]
    return x, mask.clone()


@torch.no_grad()
@pytest.mark.parametrize("name", ALL_MODELS)
def test_output_shape_and_finite(name):
    torch.manual_seed(0)
    if model_input_kind(name) == "image":
        model = build_model(name, pixels=16).eval()
        out = model(torch.rand(5, 1, 16, 16))
    else:
        x, mask = make_jets(batch=5)
        out = build_model(name).eval()(x, mask)
    assert out.shape == (5,)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ALL_MODELS)
def test_backward_runs_in_train_mode(name):
    torch.manual_seed(0)
    if model_input_kind(name) == "image":
        model, inputs = build_model(name, pixels=12, channels=[4, 4], dense=8), (torch.rand(4, 1, 12, 12),)
    else:
        model, inputs = build_model(name), make_jets(batch=4)
    model.train()
    model(*inputs).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@torch.no_grad()
@pytest.mark.parametrize("name", CONSTITUENT_MODELS)
def test_permutation_invariance(name):
    x, mask = make_jets(batch=6, slots=14)
    model = trained_eval(name, x, mask)
    reference = model(x, mask)
    shuffled = model(*shuffle_real(x, mask))
    torch.testing.assert_close(shuffled, reference, atol=1e-5, rtol=0)
    # A permutation of all slots (padding interleaved with the real constituents) changes nothing either.
    slots = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(model(x[:, slots], mask[:, slots]), reference, atol=1e-5, rtol=0)


@torch.no_grad()
@pytest.mark.parametrize("name", CONSTITUENT_MODELS)
def test_padding_invariance(name):
    x, mask = make_jets(batch=6, slots=10)
    model = trained_eval(name, x, mask)
    reference = model(x, mask)
    extra = 7
    padded_x = torch.cat([x, torch.zeros(len(x), extra, N_FEATURES)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(len(x), extra)], dim=1)
    torch.testing.assert_close(model(padded_x, padded_mask), reference, atol=1e-5, rtol=0)


@torch.no_grad()
def test_particlenet_few_constituents_and_few_slots():
    """Jets with fewer real constituents than k, a single constituent, or fewer slots than k + 1 all work."""
    x, mask = make_jets(batch=8, slots=5, min_real=1)
    mask[1, 1:] = 0.0  # single constituent
    mask[2, 2:] = 0.0  # two constituents
    x = x * mask[..., None]
    model = trained_eval("particlenet", x, mask, k=8)
    out = model(x, mask)
    assert out.shape == (8,) and torch.isfinite(out).all()
    padded = model(torch.cat([x, torch.zeros(8, 20, N_FEATURES)], 1), torch.cat([mask, torch.zeros(8, 20)], 1))
    torch.testing.assert_close(padded, out, atol=1e-5, rtol=0)
    one_slot = model(x[:, :1], mask[:, :1])
    assert torch.isfinite(one_slot).all()


@torch.no_grad()
@pytest.mark.parametrize("name", CONSTITUENT_MODELS)
def test_empty_jet_is_finite(name):
    x, mask = make_jets(batch=3, slots=6)
    x[1], mask[1] = 0.0, 0.0
    out = trained_eval(name, x, mask)(x, mask)
    assert torch.isfinite(out).all()


@torch.no_grad()
def test_efn_collinear_safe():
    x, mask = make_jets(batch=4, slots=10, min_real=2)
    mask[:, -1] = 0.0  # a free slot in every jet
    x = x * mask[..., None]
    model = trained_eval("efn", x, mask)
    reference = model(x, mask)
    split_x, split_mask = x.clone(), mask.clone()
    for jet in range(len(x)):
        n = int(mask[jet].sum())
        victim = jet % n
        split_x[jet, victim, 7] /= 2
        split_x[jet, n] = split_x[jet, victim]  # same angles, the other half of z
        split_x[jet, n, 2:5] = torch.randn(3)  # features the EFN must ignore
        split_mask[jet, n] = 1.0
    torch.testing.assert_close(model(split_x, split_mask), reference, atol=1e-5, rtol=0)


@torch.no_grad()
def test_efn_infrared_safe():
    x, mask = make_jets(batch=4, slots=10)
    mask[:, -1] = 0.0
    x = x * mask[..., None]
    model = trained_eval("efn", x, mask)
    reference = model(x, mask)
    soft_x, soft_mask = x.clone(), mask.clone()
    for jet in range(len(x)):
        n = int(mask[jet].sum())
        soft_x[jet, n, :7] = torch.randn(7)  # anywhere in the jet, any other feature
        soft_x[jet, n, 7] = 0.0
        soft_mask[jet, n] = 1.0
    torch.testing.assert_close(model(soft_x, soft_mask), reference, atol=1e-5, rtol=0)


@torch.no_grad()
def test_efn_sees_only_angles_and_z():
    x, mask = make_jets(batch=4, slots=8)
    model = trained_eval("efn", x, mask)
    other = x.clone()
    other[..., 2:7] = torch.randn_like(other[..., 2:7]) * mask[..., None]
    torch.testing.assert_close(model(other, mask), model(x, mask), atol=1e-6, rtol=0)


@torch.no_grad()
def test_pfn_is_not_trivially_constant():
    x, mask = make_jets(batch=6, slots=8)
    out = trained_eval("pfn", x, mask)(x, mask)
    assert out.std() > 0


def test_registry_classes_and_input_kinds():
    assert isinstance(build_model("pfn"), ParticleFlowNetwork)
    assert isinstance(build_model("efn"), EnergyFlowNetwork)
    assert isinstance(build_model("particlenet"), ParticleNet)
    assert isinstance(build_model("cnn"), JetImageCNN)
    assert {name: model_input_kind(name) for name in ALL_MODELS} == {
        "pfn": "constituents",
        "efn": "constituents",
        "particlenet": "constituents",
        "cnn": "image",
    }


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown model 'transformer'.*pfn, efn, particlenet, cnn"):
        build_model("transformer")
    with pytest.raises(ValueError, match="unknown model"):
        model_input_kind("bdt")
    with pytest.raises(ValueError, match="unknown hyper-parameter.*width.*accepted"):
        build_model("pfn", width=3)


def test_config_style_hyper_parameters():
    """Lists (as read from YAML) are accepted, e.g. the tiny sizes of config/test.yaml."""
    torch.manual_seed(0)
    x, mask = make_jets(batch=3, slots=32)
    models = {
        "pfn": build_model("pfn", phi_sizes=[16, 16], f_sizes=[16]),
        "efn": build_model("efn", phi_sizes=[16, 16], f_sizes=[16]),
        "particlenet": build_model("particlenet", k=4, channels=[[16, 16]], fc=32),
    }
    for model in models.values():
        assert model.eval()(x, mask).shape == (3,)
    cnn = build_model("cnn", channels=[8, 8], dense=16, pixels=16).eval()
    assert cnn(torch.rand(3, 1, 16, 16)).shape == (3,)


def test_construction_follows_the_callers_seed():
    for name in ALL_MODELS:
        torch.manual_seed(42)
        first = build_model(name).state_dict()
        torch.manual_seed(42)
        second = build_model(name).state_dict()
        assert all(torch.equal(first[key], second[key]) for key in first)


def test_default_parameter_counts_are_modest():
    counts = {name: sum(p.numel() for p in build_model(name).parameters()) for name in ALL_MODELS}
    print("default parameter counts:", counts)
    for count in counts.values():
        assert 1_000 < count < 200_000
