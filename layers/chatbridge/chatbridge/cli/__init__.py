"""The ``chatbridge`` console script: one module per command group.

To add a command group, write ``chatbridge/cli/<name>.py`` with a ``register(subparsers)`` function
that adds its parser and sets ``func`` (called with the parsed arguments, returns the exit code), then
add ``"<name>"`` to ``COMMANDS`` below. Modules are imported only when the parser is built, so a
command's heavy imports belong inside its ``func``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

COMMANDS: tuple[str, ...] = (
    "simulate",
    "local",
    "webhooks",
    "chats",
    "reply",
    "deliveries",
    "presets",
    "secrets",
    "import_lhc",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatbridge", description="Turn third-party messaging webhooks into live-chat conversations.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
