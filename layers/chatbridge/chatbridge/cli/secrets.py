"""``chatbridge secrets set NAME VALUE|-`` / ``--value-file PATH``, ``secrets list``, ``secrets delete NAME``.

The SSM SecureStrings that replies and media fetches read (``{{ssm:/chatbridge/...}}``), written through the
admin API, so one command works on the local stack (moto) and on AWS (IAM-signed), and a local setup never
reaches a real account. ``-`` or ``--value-file`` keep a secret out of the shell history and the process list;
values are never printed, not even by ``list``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from chatbridge.cli._operator import (
    UsageError,
    add_operator_command,
    client_from,
    items_of,
    print_json,
    print_table,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("secrets", help="SSM secrets (SecureString under /chatbridge/) replies and "
                                                   "media fetches read")
    commands = parser.add_subparsers(dest="secrets_command", required=True, metavar="{set,list,delete}")
    put = add_operator_command(commands, "set", help="create or overwrite a secret (the value is never printed)",
                               run=_set)
    put.add_argument("name", help="parameter name, e.g. /chatbridge/telegram-bot/token")
    put.add_argument("value", nargs="?", help="the value; '-' reads it from stdin (kept out of shell history)")
    put.add_argument("--value-file", type=Path, metavar="PATH", help="read the value from this file")
    add_operator_command(commands, "list", help="secret names, versions and last-modified dates (no values)", run=_list)
    delete = add_operator_command(commands, "delete", help="delete a secret", run=_delete)
    delete.add_argument("name", help="parameter name, e.g. /chatbridge/telegram-bot/token")


def read_value(args: argparse.Namespace) -> str:
    """The value from exactly one source. A file or stdin loses one trailing newline (``echo`` and editors
    add it; a token never ends in one), as ``$(cat file)`` would."""
    if (args.value is None) == (args.value_file is None):
        raise UsageError("give the value (or '-' for stdin) or --value-file PATH, not both and not neither")
    if args.value_file is not None:
        try:
            text = args.value_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read --value-file {args.value_file}: {error}") from None
    elif args.value == "-":
        text = sys.stdin.read()
    else:
        return args.value
    return text.removesuffix("\n").removesuffix("\r")


def _set(args: argparse.Namespace) -> int:
    answer = client_from(args).put_secret(args.name, read_value(args))
    if args.json:
        print_json(answer)
        return 0
    print(f"stored secret {answer.get('name', args.name)} (version {answer.get('version', '?')})")
    return 0


def _list(args: argparse.Namespace) -> int:
    found = items_of(client_from(args).list_secrets(), "secrets")
    if args.json:
        print_json(found)
        return 0
    print_table(found, [("name", "name"), ("version", "version"), ("last modified", "last_modified")],
                empty="no secrets yet (chatbridge secrets set NAME -)")
    return 0


def _delete(args: argparse.Namespace) -> int:
    answer = client_from(args).delete_secret(args.name)
    if args.json:
        print_json(answer)
        return 0
    print(f"deleted secret {answer.get('name', args.name) if isinstance(answer, dict) else args.name}")
    return 0
