"""GPU check of the torch top taggers: training speed on CUDA and CUDA-vs-CPU scores of the same weights.

Where torch sees CUDA, every torch tagger of the registry (``TAGGERS.networks()``: cnn, pfn, efn, particlenet, and
any added later) is built with the config's hyper-parameters and trained on CUDA for about ``--steps`` optimiser
steps on the default features (``results/toptag/features/{train,val,test}.root`` of a finished run, or ``--features
DIR``), with the one training loop of the workflow (:func:`ml4hep.training.fit`). Printed per tagger: the device,
training jets/s (CUDA), inference jets/s on CUDA and on the CPU, and the largest difference between the CUDA and the
CPU scores (sigmoid outputs) of the same trained weights on the test jets, which must stay below ``--tolerance``
(default 1e-4: float32 kernels differ in summation order, TF32 is switched off). The same training is run on the
CPU for the same number of steps to give the CPU jets/s beside it (``--skip-cpu-training`` leaves it out).

Without CUDA the script says so and exits 0 (nothing is measured): run it on a GPU node, e.g.
``srun --gpus=1 python benchmarks/gpu_check.py``. Results go to ``results/benchmarks/gpu_check.json``.

Usage::

    python benchmarks/gpu_check.py [--features results/toptag/features] [--config config/config.yaml]
                                   [--steps 300] [--tolerance 1e-4]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ml4hep.config import derive_seed, load_config
from ml4hep.errors import Ml4hepError
from ml4hep.toptag.preprocess import SPLITS, load_split
from ml4hep.toptag.taggers import TAGGERS, tagger_hyper
from ml4hep.training import balanced_weights, fit, predict, seed_everything

ROOT = Path(__file__).resolve().parents[1]


def train_steps(name: str, hyper: dict, splits: dict, steps: int, device: torch.device, seed: int) -> dict:
    """Train tagger ``name`` for about ``steps`` optimiser steps on ``device``; return the model and its speed."""
    model = TAGGERS.create(name, hyper)
    seed_everything(seed)
    network = model.build_network()
    train, val = splits["train"], splits["val"]
    batch = int(hyper["batch_size"])
    epochs = max(1, math.ceil(steps * batch / len(train["label"])))
    result = fit(
        network,
        model.arrays(train),
        train["label"],
        model.arrays(val),
        val["label"],
        train_weight=balanced_weights(train["label"]),
        val_weight=balanced_weights(val["label"]),
        epochs=epochs,
        batch_size=batch,
        learning_rate=float(hyper["learning_rate"]),
        patience=epochs + 1,
        device=device,
        seed=seed,
        description=f"{name} ({device.type})",
    )
    return {"network": network, "model": model, "epochs": epochs, "jets_per_second": result.examples_per_second}


def inference(network: torch.nn.Module, arrays: list[np.ndarray], device: torch.device) -> tuple[np.ndarray, float]:
    """Scores on ``device`` (one untimed warm-up pass) and jets/s."""
    network.to(device)
    predict(network, [a[:256] for a in arrays], device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    scores = predict(network, arrays, device=device)
    seconds = time.perf_counter() - start
    return scores, len(scores) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", default=str(ROOT / "results" / "toptag" / "features"))
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--skip-cpu-training", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "results" / "benchmarks" / "gpu_check.json"))
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            f"gpu_check: no CUDA device visible to torch {torch.__version__} (CUDA build: {torch.version.cuda}); "
            "nothing measured"
        )
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        config = load_config(args.config)
        splits = {split: load_split(Path(args.features) / f"{split}.root") for split in SPLITS}
    except (Ml4hepError, OSError) as error:
        print(f"gpu_check: {error} (run the workflow first, or give --features)", file=sys.stderr)
        return 1
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    results: dict[str, dict] = {
        "device": torch.cuda.get_device_name(0),
        "steps": args.steps,
        "tolerance": args.tolerance,
        "taggers": {},
    }
    failed = []
    print(f"{'tagger':<12} {'train jets/s':>13} {'(cpu)':>10} {'infer jets/s':>13} {'(cpu)':>10} {'max |Δscore|':>13}")
    for name in TAGGERS.networks():
        hyper = tagger_hyper(config["toptag"], name)
        seed = derive_seed(config["seed"], "toptag", name)
        trained = train_steps(name, hyper, splits, args.steps, cuda, seed)
        cpu_rate = (
            None
            if args.skip_cpu_training
            else train_steps(name, hyper, splits, args.steps, cpu, seed)["jets_per_second"]
        )
        arrays = trained["model"].arrays(splits["test"])
        cuda_scores, cuda_rate = inference(trained["network"], arrays, cuda)
        cpu_scores, cpu_inference = inference(trained["network"], arrays, cpu)
        difference = float(np.max(np.abs(cuda_scores - cpu_scores)))
        results["taggers"][name] = {
            "epochs": trained["epochs"],
            "train_jets_per_second": trained["jets_per_second"],
            "cpu_train_jets_per_second": cpu_rate,
            "inference_jets_per_second": cuda_rate,
            "cpu_inference_jets_per_second": cpu_inference,
            "max_abs_score_difference": difference,
        }
        print(
            f"{name:<12} {trained['jets_per_second']:>13.0f} {cpu_rate or float('nan'):>10.0f} {cuda_rate:>13.0f} "
            f"{cpu_inference:>10.0f} {difference:>13.2e}"
        )
        if difference > args.tolerance:
            failed.append(name)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2))
    print(f"device: {results['device']}; results in {args.output}")
    if failed:
        print(f"gpu_check: CUDA and CPU scores differ by more than {args.tolerance} for {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
