"""``chatbridge reply CHAT_ID TEXT``: answer a chat as an operator; outgoing webhooks carry it back."""

from __future__ import annotations

import argparse
from typing import Any

from chatbridge.cli._operator import UsageError, add_operator_command, client_from, print_json


def register(subparsers: Any) -> None:
    parser = add_operator_command(subparsers, "reply", help="send an operator message to a chat", run=_reply)
    parser.add_argument("chat_id", help="chat id (from `chats list`)")
    parser.add_argument("text", help="the message; [file=URL] markup becomes a link for the third party")
    parser.add_argument("--user-id", type=int, default=1, help="operator id, > 0 (default 1)")


def _reply(args: argparse.Namespace) -> int:
    if args.user_id <= 0:
        raise UsageError("--user-id must be an operator id greater than 0")
    if not args.text.strip():
        raise UsageError("the reply text is empty")
    answer = client_from(args).reply(args.chat_id, args.text, user_id=args.user_id)
    if args.json:
        print_json(answer)
        return 0
    message = answer.get("message", answer) if isinstance(answer, dict) else {}
    delivery = message.get("delivery") if isinstance(message, dict) else None
    print(f"message {message.get('id', '?')} added to chat {args.chat_id}"
          + (f" (delivery: {delivery})" if delivery else ""))
    return 0
