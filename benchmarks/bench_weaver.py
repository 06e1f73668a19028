"""Our ParT and ParticleNet side by side with weaver-core's (the reference implementations of their authors).

weaver-core is a benchmark-only dependency (the ``bench`` extra's pin, installed with ``pip install --no-deps``
``weaver-core==0.5.3``: its model files import only torch, the rest of its framework is not needed). What is
measured, in one run, with torch limited to ``--threads`` threads:

1. **Same outputs for the same weights (ParT).** weaver's ``ParticleTransformer`` (version 1, ``trim=False``, one
   output) and ours at the same sizes; weaver's is run twice in training mode (non-trivial batch-norm statistics),
   its ``state_dict`` is mapped into ours (:func:`ml4hep.toptag.part.load_weaver_state_dict`), and both are
   evaluated on the same jets: weaver gets the features (B, 8, P), the massless four-momenta
   (:func:`ml4hep.toptag.part.four_momenta`) and the mask. Reported: the largest |difference| of the logits in
   float64 (the check: below 1e-5) and in float32 (where weaver's m² = E² - p² of the summed four-vector loses
   digits to cancellation for collinear pairs and for a particle with itself, ours does not).
2. **Throughput** of ParT (our default size) and of ParticleNet at equal size (k = 8, EdgeConv channels
   (32, 32, 32), (64, 64, 64), fc 128, no fusion block: weaver's ``use_fusion=False``): training jets/s (forward,
   BCE on half top, half QCD labels, backward, Adam step) and inference jets/s (eval, no grad), ``--batch`` jets
   × ``--slots`` constituent slots, jets holding between a quarter and all of the slots (one full jet per batch).
   weaver gets its inputs already in its channels-first layout (the transposes are not timed), and ``trim=False``
   so that both process every slot. Each measurement is ``--steps`` steps after ``--warmup`` untimed ones; ours and
   weaver's alternate ``--repeats`` times and the median rates are reported with their ratio (ours / weaver's;
   > 1: ours is faster), so that the ratio is measured under the same machine load.

Usage::

    python benchmarks/bench_weaver.py [--threads 2] [--batch 128] [--slots 64] [--steps 20] [--repeats 5]
                                      [--device cpu] [--output results/benchmarks/weaver.json]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from timing import versions, write_report  # benchmarks/timing.py, beside this script
from torch import nn

from ml4hep.toptag.models import ParticleNet
from ml4hep.toptag.part import ParticleTransformer, four_momenta, load_weaver_state_dict

PART_SIZES: dict[str, Any] = {
    "embed_dims": (32, 32),
    "pair_embed_dims": (16, 16),
    "num_heads": 4,
    "num_layers": 2,
    "num_cls_layers": 1,
}
"""Our default ParT (:class:`ml4hep.toptag.part.ParticleTransformer`), given to both implementations."""
PARTICLENET = {"k": 8, "channels": ((32, 32, 32), (64, 64, 64)), "fc": 128, "dropout": 0.1}
"""ParticleNet at the issue's size (26k parameters)."""
EQUALITY_SIZES: dict[str, Any] = {**PART_SIZES, "num_cls_layers": 2}
"""The weight-copy check also covers a second class-attention block."""


def make_jets(batch: int, slots: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded jets in the preprocessing's column order (angles within R ~ 0.8, pT of a few to 100 GeV)."""
    generator = torch.Generator().manual_seed(seed)
    counts = torch.randint(max(slots // 4, 2), slots + 1, (batch,), generator=generator)
    counts[0] = slots
    mask = (torch.arange(slots)[None, :] < counts[:, None]).float()
    x = torch.randn(batch, slots, 8, generator=generator)
    x[..., 0:2] *= 0.3
    x[..., 2] = torch.rand(batch, slots, generator=generator) * 3.0 + 1.0
    pt = torch.exp(x[..., 2]) * mask
    x[..., 3] = x[..., 2] + x[..., 0].abs()
    x[..., 6] = torch.hypot(x[..., 0], x[..., 1])
    x[..., 7] = pt / pt.sum(1, keepdim=True)
    return x * mask[..., None], mask


def weaver_part(sizes: dict[str, Any]) -> nn.Module:
    """weaver-core's ParT, version 1, one output logit, no sequence trimming."""
    from weaver.nn.model.ParticleTransformer import ParticleTransformer as WeaverParT

    return WeaverParT(input_dim=8, num_classes=1, trim=False, **sizes)


def weaver_particlenet() -> nn.Module:
    """weaver-core's ParticleNet at :data:`PARTICLENET`'s size, without the fusion block (ours has none)."""
    from weaver.nn.model.ParticleNet import ParticleNet as WeaverParticleNet

    conv = [(PARTICLENET["k"], tuple(c)) for c in PARTICLENET["channels"]]
    return WeaverParticleNet(8, 1, conv_params=conv, fc_params=[(PARTICLENET["fc"], PARTICLENET["dropout"])],
                             use_fusion=False, trim=False)  # fmt: skip


@torch.no_grad()
def part_equality(dtype: torch.dtype, seed: int) -> float:
    """Largest |ours - weaver's| ParT logit for weaver's weights copied into ours."""
    torch.manual_seed(seed)
    weaver = weaver_part(EQUALITY_SIZES).to(dtype).train()
    x, mask = (t.to(dtype) for t in make_jets(64, 32, seed))
    v = four_momenta(x, mask).transpose(1, 2)
    for _ in range(2):
        weaver(x.transpose(1, 2), v=v, mask=mask.unsqueeze(1))
    weaver.eval()
    ours = ParticleTransformer(**EQUALITY_SIZES).to(dtype).eval()
    load_weaver_state_dict(ours, weaver.state_dict())
    theirs = weaver(x.transpose(1, 2), v=v, mask=mask.unsqueeze(1)).squeeze(-1)
    return float((ours(x, mask) - theirs).abs().max())


def rate(step: Callable[[], None], jets: int, steps: int, warmup: int, sync: Callable[[], None]) -> float:
    """Jets per second of ``steps`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return jets * steps / (time.perf_counter() - start)


def steps_for(model: nn.Module, inputs: tuple[torch.Tensor, ...], labels: torch.Tensor) -> dict[str, Callable]:
    """A training step (BCE, Adam) and an inference step of ``model`` on fixed inputs."""
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()

    def train() -> None:
        model.train()
        optimiser.zero_grad(set_to_none=True)
        loss_fn(model(*inputs).reshape(-1), labels).backward()
        optimiser.step()

    @torch.no_grad()
    def infer() -> None:
        model.eval()
        model(*inputs)

    return {"train": train, "inference": infer}


def compare(name: str, ours: dict[str, Callable], theirs: dict[str, Callable], args: argparse.Namespace,
            sync: Callable[[], None]) -> dict[str, Any]:  # fmt: skip
    """Alternating measurements of ours and weaver's; median jets/s and their ratio per mode."""
    out: dict[str, Any] = {}
    for mode in ("train", "inference"):
        rates: dict[str, list[float]] = {"ours": [], "weaver": []}
        for _ in range(args.repeats):
            for who, steps in (("ours", ours), ("weaver", theirs)):
                rates[who].append(rate(steps[mode], args.batch, args.steps, args.warmup, sync))
        ours_rate, weaver_rate = statistics.median(rates["ours"]), statistics.median(rates["weaver"])
        ratios = [a / b for a, b in zip(rates["ours"], rates["weaver"], strict=True)]
        out[mode] = {
            "ours_jets_per_second": ours_rate,
            "weaver_jets_per_second": weaver_rate,
            "ratio": ours_rate / weaver_rate,
            "ratio_per_repeat": ratios,
        }
        print(f"{name:12s} {mode:9s} ours {ours_rate:9.0f} jets/s  weaver {weaver_rate:9.0f} jets/s  "
              f"ratio {ours_rate / weaver_rate:.3f} (per repeat {min(ratios):.3f}-{max(ratios):.3f})")  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--only", choices=("part", "particlenet"), help="time one of the two models only")
    parser.add_argument("--output", type=Path, default=Path("results/benchmarks/weaver.json"))
    args = parser.parse_args(argv)
    try:
        import weaver.nn.model.ParticleTransformer  # noqa: F401
    except ImportError:
        print(
            "weaver-core is not installed: pip install --no-deps weaver-core==0.5.3 (the bench extra's pin)",
            file=sys.stderr,
        )
        return 2
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    report: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "device": str(device),
        "threads": args.threads,
        "batch": args.batch,
        "slots": args.slots,
        "versions": versions(["torch", "weaver-core"]),
    }
    report["part_equality_max_abs_diff"] = {
        "float64": part_equality(torch.float64, args.seed),
        "float32": part_equality(torch.float32, args.seed),
    }
    print("ParT, weaver's weights in ours, max |logit difference|:", report["part_equality_max_abs_diff"])

    x, mask = (t.to(device) for t in make_jets(args.batch, args.slots, args.seed))
    labels = (torch.arange(args.batch, device=device) % 2).float()
    features, weaver_mask = x.transpose(1, 2).contiguous(), mask.unsqueeze(1).contiguous()
    points = features[:, :2].contiguous()
    v = four_momenta(x, mask).transpose(1, 2).contiguous()
    models = {
        "part": (
            lambda: ParticleTransformer(**PART_SIZES),
            lambda: weaver_part(PART_SIZES),
            lambda w: (features, v, weaver_mask),
        ),
        "particlenet": (
            lambda: ParticleNet(**PARTICLENET),
            weaver_particlenet,
            lambda w: (points, features, weaver_mask),
        ),
    }
    for name, (build_ours, build_weaver, weaver_inputs) in models.items():
        if args.only not in (None, name):
            continue
        torch.manual_seed(args.seed)
        ours, theirs = build_ours().to(device), build_weaver().to(device)
        sizes = [sum(p.numel() for p in m.parameters()) for m in (ours, theirs)]
        print(f"{name}: {sizes[0]} parameters (ours), {sizes[1]} (weaver)")
        report[name] = {
            "parameters": {"ours": sizes[0], "weaver": sizes[1]},
            **compare(
                name, steps_for(ours, (x, mask), labels), steps_for(theirs, weaver_inputs(theirs), labels), args, sync
            ),  # fmt: skip
        }
    write_report(args.output, report)
    return 0 if report["part_equality_max_abs_diff"]["float64"] < 1e-5 else 1


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
