"""One closure study measurement (ml4hep.pdf.study.closure_study): R_bv and xi_1sigma in and out of sample.

The config is config/config.yaml with ``--configfile`` files merged over it (as Snakemake merges them) and then
``--set`` YAML snippets (e.g. ``--set 'pdf: {training: {shared_mask: true}}'``). The cached commondata come from
``--data`` (a run's ``results/pdf/data/``), the FK tables from the versioned ``theory/fk/<hash>/``. One JSON line per
call is appended to ``--output`` (the label, the overrides, the estimators, the replicas kept, the CPU seconds).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/pdf_closure_study.py --label baseline \\
        --configfile config/pdf-closure.yaml --data results/pdf/data --output /tmp/study.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # one thread, as the pdf_replica_batch rule runs

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ml4hep.config import merge_configs, read_yaml, validate_config  # noqa: E402
from ml4hep.io import json_safe  # noqa: E402
from ml4hep.pdf.study import closure_study  # noqa: E402
from ml4hep.pdf.theory import settings_hash  # noqa: E402


def main() -> None:
    """Run one study point and append its line to the output."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True)
    parser.add_argument("--configfile", nargs="*", default=[])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--data", type=Path, required=True, help="folder of the cached commondata npz files")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    config = read_yaml(ROOT / "config" / "config.yaml")
    for path in args.configfile:
        config = merge_configs(config, read_yaml(path))
    for text in args.overrides:
        config = merge_configs(config, yaml.safe_load(text))
    options = validate_config(config)["pdf"]
    folder = ROOT / "theory" / "fk" / settings_hash(options["theory"])
    names = list(options["datasets"])
    cpu = time.process_time()
    result = closure_study(
        options,
        {name: args.data / f"{name}.npz" for name in names},
        {name: folder / f"{name}.npz" for name in names},
        folder / "POSITIVITY.npz",
        int(config["seed"]),
    )
    result["cpu_seconds"] = time.process_time() - cpu
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = {"label": args.label, "configfiles": args.configfile, "overrides": args.overrides, **result}
    with args.output.open("a") as stream:
        stream.write(json.dumps(json_safe(line)) + "\n")
    closure = result["closure"]
    for key in ("in_sample", "out_of_sample"):
        if closure.get(key):
            part = closure[key]
            print(
                f"{args.label} {key}: R_bv {part['r_bv']:.3f} ± {part['r_bv_err']:.3f}, "
                f"xi {part['xi_1sigma']:.3f} ± {part['xi_1sigma_err']:.3f} ({part['fits']} fits)"
            )
    print(f"kept {result['kept']}/{result['requested']}, {result['cpu_seconds']:.0f} CPU-s")


if __name__ == "__main__":
    main()
