"""What the operator commands share: --endpoint/--json options, plain-text tables, error exits.

Every command prints a readable table by default and the API's JSON with ``--json`` (for scripts), and
exits non-zero with the API's own reason when a request fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from chatbridge.cli._table import print_table  # noqa: F401 (every command's table)
from chatbridge.cli.client import DEFAULT_ENDPOINT, ENDPOINT_ENV, ApiError, ChatbridgeClient, EndpointError
from chatbridge.errors import ChatbridgeError

EXIT_API_ERROR = 1
EXIT_USAGE = 2


def add_operator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", default=None,
                        help=f"API base URL (default ${ENDPOINT_ENV} or {DEFAULT_ENDPOINT}); "
                             "AWS endpoints are SigV4-signed with your AWS credentials")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer instead of a table")


def add_operator_command(commands: Any, name: str, *, help: str,
                         run: Callable[[argparse.Namespace], int | None]) -> argparse.ArgumentParser:
    """A subcommand that talks to the admin API: ``--endpoint``/``--json``, and ``run`` with errors as exits."""
    parser = commands.add_parser(name, help=help)
    add_operator_options(parser)
    parser.set_defaults(func=run_operator_command(run))
    return parser


def client_from(args: argparse.Namespace) -> ChatbridgeClient:
    """A client for ``--endpoint`` (or its default); an endpoint no request could go to is a usage error."""
    try:
        return ChatbridgeClient(args.endpoint)
    except EndpointError as error:
        raise UsageError(str(error)) from None


def run_operator_command(action: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """Wrap a command so API errors become one stderr line and a non-zero exit, never a traceback."""

    def wrapped(args: argparse.Namespace) -> int:
        try:
            return action(args) or 0
        except ApiError as error:
            where = f" (HTTP {error.status})" if error.status else ""
            print(f"error{where}: {error.reason}", file=sys.stderr)
            return EXIT_API_ERROR
        except UsageError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE

    return wrapped


class UsageError(ChatbridgeError):
    """Bad input on the command line or in a file: exit 2 with this message."""


def print_json(document: Any) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def items_of(answer: Any, *keys: str) -> list[dict[str, Any]]:
    """A list answer may be bare or wrapped (``{"items": [...]}``, ``{"chats": [...]}``...)."""
    if isinstance(answer, list):
        return answer
    if isinstance(answer, dict):
        for key in (*keys, "items", "results", "data"):
            if isinstance(answer.get(key), list):
                return answer[key]
    return []
