"""``chatbridge deliveries list`` and ``chatbridge deliveries redrive``: did replies reach the third party?

``redrive`` puts dead-lettered jobs back on the dispatch queue; ``redrive --stream`` replays the chat stream
batches the evaluator gave up on (the replies that were never queued): the admin API re-reads them from the
stream and re-evaluates them, one round of about 20 s per request, so the command asks again while the answer
says more remain. Job ids stay the same, so no reply already sent is sent twice.
"""

from __future__ import annotations

import argparse
import sys
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
    redrive = add_operator_command(commands, "redrive", help="put dead-lettered deliveries back on the dispatch "
                                   "queue (--stream: replay the stream records the evaluator gave up on)", run=_redrive)
    redrive.add_argument("--stream", action="store_true",
                         help="re-read and re-evaluate the chat stream batches in the evaluator's failure queue "
                              "(possible while the stream keeps them: 24 hours)")


def _list(args: argparse.Namespace) -> int:
    deliveries = items_of(client_from(args).list_deliveries(chat_id=args.chat_id), "deliveries")
    if args.json:
        print_json(deliveries)
        return 0
    print_table(deliveries, [("id", "id"), ("chat", "chat_id"), ("message", "message_id"), ("status", "status"),
                             ("http", "status_code"), ("attempts", "attempts"), ("ms", "duration_ms"),
                             ("response", "response_excerpt"), ("error", "error")], empty="no deliveries yet")
    return 0


MAX_ROUNDS = 50  # each round is one admin request of about 20 s of work


def _redrive(args: argparse.Namespace) -> int:
    if args.stream:
        return _redrive_stream(args)
    client = client_from(args)
    answer = client.redrive_deliveries()
    total, rounds = 0, 1
    while isinstance(answer, dict) and answer.get("remaining") and answer.get("redriven") and rounds < MAX_ROUNDS:
        total += int(answer["redriven"])
        answer, rounds = client.redrive_deliveries(), rounds + 1  # each request moves what fits in ~20 s
    if isinstance(answer, dict) and isinstance(answer.get("redriven"), int):
        answer = {**answer, "redriven": total + answer["redriven"]}
    if args.json:
        print_json(answer)
        return 0
    count = answer.get("redriven", answer.get("count")) if isinstance(answer, dict) else None
    print(f"redrove {count if count is not None else 'the'} dead-lettered deliveries")
    return 0


def _redrive_stream(args: argparse.Namespace) -> int:
    """Ask until no failure record remains (or a round makes no progress); exit 1 when some could not be redriven."""
    client = client_from(args)
    rounds: list[dict[str, Any]] = []
    while len(rounds) < MAX_ROUNDS:
        answer = client.redrive_stream_failures()
        rounds.append(answer)
        if not answer.get("remaining") or not (answer.get("batches") or answer.get("expired") or answer.get("failed")):
            break
    total = {key: sum(int(r.get(key) or 0) for r in rounds) for key in ("batches", "records", "jobs")}
    problems = {key: [item for r in rounds for item in r.get(key) or []] for key in ("expired", "failed", "unreadable")}
    remaining = bool(rounds[-1].get("remaining"))
    if args.json:
        print_json({**total, **problems, "remaining": remaining, "rounds": len(rounds)})
    else:
        print(f"redrove {total['batches']} failed stream batches: {total['records']} records evaluated again, "
              f"{total['jobs']} dispatch jobs queued (replies already sent are not sent again)")
        for item in problems["expired"]:
            print(f"lost: shard {item['shard_id']} {item['start_sequence_number']}..{item['end_sequence_number']} "
                  f"({item['batch_size']} records): {item['reason']}", file=sys.stderr)
        for item in problems["failed"]:
            print(f"failed again (kept for the next redrive): shard {item['shard_id']} from "
                  f"{item['sequence_number']}: {item['reason']}", file=sys.stderr)
        for item in problems["unreadable"]:
            print(f"not a stream failure record (left on the queue): message {item['message_id']}", file=sys.stderr)
        if remaining:
            print("more failure records remain: run the command again", file=sys.stderr)
    return 1 if any(problems.values()) or remaining else 0
