"""``chatbridge chats list`` and ``chatbridge chats show ID``: what third parties' webhooks created."""

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

SENDERS = {0: "visitor", -1: "system", -2: "business"}  # -2: sent from the business's own phone or app


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("chats", help="chats created by incoming webhooks")
    commands = parser.add_subparsers(dest="chats_command", required=True, metavar="{list,show}")
    listing = add_operator_command(commands, "list", help="list chats, newest first", run=_list)
    listing.add_argument("--incoming", help="only chats of this incoming webhook (identifier)")
    listing.add_argument("--status", choices=["pending", "active", "closed"], help="only chats in this status")
    show = add_operator_command(commands, "show", help="one chat and its messages", run=_show)
    show.add_argument("chat_id", help="chat id (from `chats list`)")


def _list(args: argparse.Namespace) -> int:
    answer = client_from(args).list_chats(incoming=args.incoming, status=args.status)
    chats = items_of(answer, "chats")
    if args.json:
        print_json(chats)
        return 0
    print_table(chats, [("id", "id"), ("status", "status"), ("nick", "nick"), ("phone", "phone"),
                        ("incoming", "incoming_chat.incoming.identifier"),
                        ("external id", "incoming_chat.chat_external_id"), ("updated", "updated_at")],
                empty="no chats yet")
    return 0


def _show(args: argparse.Namespace) -> int:
    client = client_from(args)
    chat = client.get_chat(args.chat_id)
    if isinstance(chat, dict) and isinstance(chat.get("chat"), dict):
        chat = chat["chat"]
    messages = items_of(client.list_messages(args.chat_id), "messages")
    if args.json:
        print_json({"chat": chat, "messages": messages})
        return 0
    incoming = (chat.get("incoming_chat") or {}).get("incoming") or {}
    print(f"chat {chat.get('id')}  {chat.get('status')}  {chat.get('nick')}"
          f"{'  ' + chat['phone'] if chat.get('phone') else ''}")
    print(f"  from {incoming.get('name') or incoming.get('identifier') or '-'}"
          f" (external id {(chat.get('incoming_chat') or {}).get('chat_external_id', '-')})")
    for message in messages:
        message["from"] = _sender(message)
        message["message"] = _shown_text(message)
    print_table(messages, [("id", "id"), ("time", "time"), ("from", "from"), ("kind", "kind"), ("message", "message"),
                           ("delivery", "delivery")], empty="no messages")
    return 0


def _sender(message: dict[str, Any]) -> str:
    """Who wrote it: a group member's name (the message's author), the business's shown name, or the role."""
    user_id = message.get("user_id", 0)
    role = SENDERS.get(user_id, f"operator {user_id}")
    author = message.get("author") if isinstance(message.get("author"), dict) else {}
    name = author.get("name") or (message.get("name_support") if user_id == -2 else None)
    return f"{role}: {name}" if name else role


def _shown_text(message: dict[str, Any]) -> str:
    """The text, marked when an edit changed it, with the reactions it got."""
    text = str(message.get("msg", ""))
    if message.get("edited_at"):
        text += f" (edited, {len(message.get('history') or [])} earlier)"
    reactions = [str(r.get("reaction", "")) for r in message.get("reactions") or [] if isinstance(r, dict)]
    return text + (f" [{' '.join(reactions)}]" if reactions else "")
