"""Command line: ``ml4hep check-config``, ``generate``, ``convert``, ``predict``, ``susy predict``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from ml4hep.errors import Ml4hepError


def _check_config(args: argparse.Namespace) -> None:
    from ml4hep.config import load_config
    from ml4hep.generate.processes import generated_processes

    config = load_config(args.config, base=None if args.alone else args.default)
    merged = "" if args.alone else f" (merged over {args.default}, as the workflow merges it)"
    print(f"{args.config}: valid{merged}")
    print(f"  tasks: {', '.join(config['tasks'])}")
    for name, spec in generated_processes(config).items():
        print(f"  {name}: {spec.events} events in {spec.shards} shard(s)")
    for name, entry in config["inputs"].items():
        print(f"  {name}: {len(entry['files'])} file(s) of your own ({entry['format']}, set {entry['set']})")


def _generate(args: argparse.Namespace) -> None:
    from ml4hep.config import load_config
    from ml4hep.errors import ConfigError
    from ml4hep.generate.processes import generated_processes
    from ml4hep.generate.shard import generate_shard

    config = load_config(args.config)
    specs = generated_processes(config)
    if args.process not in specs:
        raise ConfigError(f"unknown process {args.process!r}; the config generates: {', '.join(specs)}")
    shards = specs[args.process].shards
    if not 0 <= args.shard < shards:
        raise ConfigError(
            f"--shard {args.shard}: {args.process} has {shards} shard(s) in {args.config} (0 to {shards - 1})"
        )
    summary = generate_shard(specs[args.process], args.shard, config, args.output)
    print(json.dumps(summary, indent=2))


def _convert(args: argparse.Namespace) -> None:
    from ml4hep import convert

    if args.format == "higgsml":
        summary = convert.convert_higgsml_csv(args.input, args.output)
    else:
        summary = convert.convert_toplandscape_hdf5(args.input, args.output, max_constituents=args.max_constituents)
    print(json.dumps(summary, indent=2, default=str))


def _susy_predict(args: argparse.Namespace) -> None:
    from ml4hep.susy.predict import format_rows, predict

    rows = predict(args.points, args.models, args.classifier)
    print(json.dumps(rows, indent=2) if args.json else "\n".join(format_rows(rows)))


def _predict(args: argparse.Namespace) -> None:
    from ml4hep.predict import format_summary, predict

    summary = predict(
        args.model,
        args.input,
        args.output,
        config=args.config,
        sample=args.sample,
        shard=args.shard,
        label=args.label,
        regressor=args.regressor,
        chunk_size=args.chunk_size,
    )
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ml4hep`` command."""
    from ml4hep import __version__
    from ml4hep.config import DEFAULT_CONFIG_PATH

    parser = argparse.ArgumentParser(prog="ml4hep", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ml4hep {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check-config", help="validate a config file and list the generated processes")
    check.add_argument("config")
    check.add_argument(
        "--default",
        default=str(DEFAULT_CONFIG_PATH),
        help="the workflow's default config, which the file is merged over (as Snakemake does)",
    )
    check.add_argument("--alone", action="store_true", help="validate the file alone, not merged over the default")
    check.set_defaults(func=_check_config)

    generate = commands.add_parser("generate", help="generate one shard of one process into a ROOT file")
    generate.add_argument("--config", default="config/config.yaml")
    generate.add_argument("--process", required=True, help="e.g. higgs_ztautau, toptag_ttbar")
    generate.add_argument("--shard", type=int, default=0)
    generate.add_argument("--output", required=True)
    generate.set_defaults(func=_generate)

    conv = commands.add_parser("convert", help="convert a public dataset into the ml4hep ROOT schema")
    conv.add_argument("format", choices=["higgsml", "toplandscape"])
    conv.add_argument("input")
    conv.add_argument("output")
    conv.add_argument("--max-constituents", type=int, default=200)
    conv.set_defaults(func=_convert)

    pred = commands.add_parser(
        "predict", help="score a file with a trained top tagger or Higgs classifier into a scores friend tree"
    )
    pred.add_argument("--model", required=True, help="results/{toptag,higgs}/models/<name>.onnx, .json or .pt")
    pred.add_argument("--input", required=True, help="ROOT file in the sample schema, TopLandscape .h5, HiggsML .csv")
    pred.add_argument("--output", required=True, help="the scores ROOT file (TTree 'scores')")
    pred.add_argument(
        "--config", help="feature settings: a config file or a provenance.json (default: the model's run's provenance)"
    )
    pred.add_argument("--sample", help="sample name stored beside the tree (default: from the input's path)")
    pred.add_argument("--shard", type=int, help="'shard' column (default: from the input's path, else 0)")
    pred.add_argument("--label", type=int, choices=[0, 1], help="label of every event (default: the file's)")
    pred.add_argument(
        "--regressor", help="bdt_mreg's mass regression (default: mass_regression.onnx beside the BDT, else .pt)"
    )
    pred.add_argument(
        "--chunk-size", type=int, help="events read and scored at a time (default: 4096 jets, 100000 Higgs events)"
    )
    pred.add_argument("--json", action="store_true", help="print the summary as JSON")
    pred.set_defaults(func=_predict)

    susy = commands.add_parser("susy", help="SUSY task tools").add_subparsers(dest="susy_command", required=True)
    susy_predict = susy.add_parser("predict", help="classify pMSSM-19 points as excluded/allowed (SUSY-AI style)")
    susy_predict.add_argument("points", nargs="+", help="SLHA files, folders of SLHA files, or ROOT/CSV tables")
    susy_predict.add_argument("--models", default="results/susy/models", help="folder of the trained classifiers")
    susy_predict.add_argument("--classifier", choices=["rf_parameters", "rf", "bdt", "mlp"], default="rf")
    susy_predict.add_argument("--json", action="store_true", help="print JSON instead of a table")
    susy_predict.set_defaults(func=_susy_predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; user errors print one line and return 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        args.func(args)
    except Ml4hepError as error:
        print(f"ml4hep: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
