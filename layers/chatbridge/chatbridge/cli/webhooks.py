"""``chatbridge webhooks apply -f FILE`` and ``chatbridge webhooks list``.

``apply`` stores what a file describes: one incoming webhook spec, a list of them, or a whole setup
(``rest_apis``, ``incoming_webhooks``, ``webhooks``) in JSON or YAML, so an integration lives in version
control and is re-applied in one step.
"""

from __future__ import annotations

import argparse
import json
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
    parser = subparsers.add_parser("webhooks", help="incoming webhook specs and outgoing webhooks")
    commands = parser.add_subparsers(dest="webhooks_command", required=True, metavar="{apply,list}")
    apply = add_operator_command(commands, "apply", help="store the specs / webhooks / REST APIs a JSON or YAML file describes",
                                 run=_apply)
    apply.add_argument("-f", "--file", required=True, type=Path, help="spec.json, spec.yaml, or '-' for stdin")
    add_operator_command(commands, "list", help="show incoming webhooks (with their URLs) and outgoing webhooks",
                         run=_list)


def read_document(path: Path) -> Any:
    """JSON or YAML, judged by content (JSON is YAML, but JSON errors are clearer for .json files)."""
    import sys

    import yaml

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"{path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML/JSON'}: {exc}") \
            from exc


def _apply(args: argparse.Namespace) -> int:
    """Store the file's entries, or none of them: a bad entry is reported with its index before any request."""
    from chatbridge.cli.documents import DocumentError

    document = read_document(args.file)
    client = client_from(args)
    try:
        applied = client.apply(document)
    except DocumentError as error:
        if len(error.problems) == 1:
            raise UsageError(f"{args.file}: {error.problems[0]} (nothing was stored)") from None
        raise UsageError(f"{args.file}: nothing was stored:\n" + "\n".join(f"  {line}" for line in error.problems)) \
            from None
    if args.json:
        print_json(applied)
        return 0
    for entry in applied:
        print(f"applied {entry['kind']} {entry['id']}")
        if entry["kind"] == "incoming webhook":
            print(f"  third parties post to {client.endpoint}/webhooks/incoming/{entry['id']}")
    return 0


def _list(args: argparse.Namespace) -> int:
    client = client_from(args)
    incoming = items_of(client.list_incoming_webhooks(), "incoming_webhooks", "specs")
    outgoing = items_of(client.list_webhooks(), "webhooks")
    if args.json:
        print_json({"incoming_webhooks": incoming, "webhooks": outgoing})
        return 0
    for spec in incoming:
        spec.setdefault("url", f"{client.endpoint}/webhooks/incoming/{spec.get('identifier')}")
    print("Incoming webhooks")
    print_table(incoming, [("id", "id"), ("identifier", "identifier"), ("name", "name"), ("scope", "scope"),
                           ("enabled", "enabled"), ("url", "url")], empty="  (none: add one with `webhooks apply -f`)")
    print("\nOutgoing webhooks")
    print_table(outgoing, [("id", "id"), ("event", "event"), ("rest api", "rest_api_id"), ("enabled", "enabled"),
                           ("conditions", "conditions")], empty="  (none)")
    return 0
