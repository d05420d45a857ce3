"""The CLI: `python -m lab <stage> …` runs the same recipes the UI exports."""
from __future__ import annotations

import argparse
import importlib
import sys

from lab.errors import LabError

# command -> the module whose add_parsers(subparsers) defines it. Only the module a command needs is
# imported, so `python -m lab push` does not pay for importing the training stack.
COMMANDS = {
    "models": "lab.models.cli",
    "jobs": "lab.jobs.cli",
    "data": "lab.data.cli",
    "train": "lab.train.cli",
    "merge": "lab.merge.cli",
    "chat": "lab.chat.cli",
    "votes": "lab.chat.cli",
    "hub": "lab.hub.cli",
    "push": "lab.hub.cli",
    "tour": "lab.tour.cli",
    "export": "lab.export.cli",
    "eval": "lab.eval.cli",
    "runs": "lab.runs.cli",
    "serve": "lab.serve.cli",
    "extract-lora": "lab.extract.cli",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description="The lab: curate, train, merge, chat, publish.")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = [COMMANDS[command]] if command in COMMANDS else COMMANDS.values()
    for name in dict.fromkeys(modules):
        importlib.import_module(name).add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    args.argv = list(argv)  # a command may re-run itself in a child process (train, under the memory watchdog)
    try:
        return args.func(args) or 0
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
