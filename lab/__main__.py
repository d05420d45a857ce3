"""The CLI: `python -m lab <stage> …` runs the same recipes the UI exports."""
from __future__ import annotations

import argparse
import importlib
import sys

from lab.errors import LabError

# Each module adds its subcommands with add_parsers(subparsers).
CLI_MODULES = ["lab.cli_models"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description="The lab: curate, train, merge, chat, publish.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in CLI_MODULES:
        importlib.import_module(name).add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
