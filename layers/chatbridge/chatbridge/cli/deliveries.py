"""``chatbridge deliveries list`` and ``chatbridge deliveries redrive``: did replies reach the third party?"""

from __future__ import annotations

import argparse
from typing import Any

from chatbridge.cli._operator import (
    add_operator_command,
    client_from,
    items_of,
    print_json,
    print_table,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("deliveries", help="outbound REST calls made for replies")
    commands = parser.add_subparsers(dest="deliveries_command", required=True, metavar="{list,redrive}")
    listing = add_operator_command(commands, "list", help="deliveries with status code, attempts and response excerpt",
                                   run=_list)
    listing.add_argument("--chat", dest="chat_id", help="only deliveries of this chat")
    add_operator_command(commands, "redrive", help="put dead-lettered deliveries back on the dispatch queue",
                         run=_redrive)


def _list(args: argparse.Namespace) -> int:
    deliveries = items_of(client_from(args).list_deliveries(chat_id=args.chat_id), "deliveries")
    if args.json:
        print_json(deliveries)
        return 0
    print_table(deliveries, [("id", "id"), ("chat", "chat_id"), ("message", "message_id"), ("status", "status"),
                             ("http", "status_code"), ("attempts", "attempts"), ("ms", "duration_ms"),
                             ("response", "response_excerpt"), ("error", "error")], empty="no deliveries yet")
    return 0


def _redrive(args: argparse.Namespace) -> int:
    answer = client_from(args).redrive_deliveries()
    if args.json:
        print_json(answer)
        return 0
    count = answer.get("redriven", answer.get("count")) if isinstance(answer, dict) else None
    print(f"redrove {count if count is not None else 'the'} dead-lettered deliveries")
    return 0
