"""``chatbridge reply CHAT_ID [TEXT] [--file PATH]``: answer a chat as an operator; outgoing webhooks carry it back.

With ``--file`` the file is uploaded first (``POST /admin/chats/{id}/files``: inline up to 4 MiB, else a
presigned S3 PUT), then one message carries it and the text, if any, as its caption.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chatbridge.cli._operator import UsageError, add_operator_command, client_from, print_json


def register(subparsers: Any) -> None:
    parser = add_operator_command(subparsers, "reply", help="send an operator message (text, a file, or both) to a chat",
                                  run=_reply)
    parser.add_argument("chat_id", help="chat id (from `chats list`)")
    parser.add_argument("text", nargs="?", default="",
                        help="the message (with --file: its caption); [file=URL] markup becomes a link for the third party")
    parser.add_argument("--file", type=Path, default=None, metavar="PATH",
                        help="send this file (an image is sent as a picture, anything else as a document)")
    parser.add_argument("--type", dest="media_type", default=None, metavar="TYPE",
                        help="the file's media type (default: from its name, such as image/jpeg for .jpg)")
    parser.add_argument("--user-id", type=int, default=1, help="operator id, > 0 (default 1)")


def _reply(args: argparse.Namespace) -> int:
    if args.user_id <= 0:
        raise UsageError("--user-id must be an operator id greater than 0")
    if not args.text.strip() and args.file is None:
        raise UsageError("the reply is empty: give a text, --file PATH, or both")
    client = client_from(args)
    file = None
    if args.file is not None:
        try:
            content = args.file.read_bytes()
        except OSError as error:
            raise UsageError(f"--file {args.file}: {error.strerror or error}") from None
        file = client.upload_file(args.chat_id, args.file.name, content, media_type=args.media_type)
    answer = client.reply(args.chat_id, args.text, user_id=args.user_id, file=file["id"] if file else None)
    if args.json:
        print_json(answer)
        return 0
    message = answer.get("message", answer) if isinstance(answer, dict) else {}
    delivery = message.get("delivery") if isinstance(message, dict) else None
    carried = f" with {file['name']} ({file['type']}, {file['size']} bytes)" if file else ""
    print(f"message {message.get('id', '?')} added to chat {args.chat_id}{carried}"
          + (f" (delivery: {delivery})" if delivery else ""))
    return 0
