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
    # nargs="+": argparse takes positionals in one run, so a text after `--file PATH` would be refused otherwise
    parser.add_argument("--file", nargs="+", default=None, metavar=("PATH", "TEXT"),
                        help="send this file (an image is sent as a picture, anything else as a document); "
                             "the text may follow it: --file photo.jpg 'Your receipt'")
    parser.add_argument("--type", dest="media_type", default=None, metavar="TYPE",
                        help="the file's media type (default: from its name, such as image/jpeg for .jpg)")
    parser.add_argument("--user-id", type=int, default=1, help="operator id, > 0 (default 1)")


def _file_and_text(args: argparse.Namespace) -> tuple[Path | None, str]:
    if args.file is None:
        return None, args.text
    path, *after = args.file
    if len(after) > 1 or (after and args.text):
        raise UsageError("give the text once, quoted: chatbridge reply CHAT --file PATH 'the text'")
    return Path(path), after[0] if after else args.text


def _reply(args: argparse.Namespace) -> int:
    if args.user_id <= 0:
        raise UsageError("--user-id must be an operator id greater than 0")
    path, text = _file_and_text(args)
    if not text.strip() and path is None:
        raise UsageError("the reply is empty: give a text, --file PATH, or both")
    client = client_from(args)
    file = None
    if path is not None:
        try:
            content = path.read_bytes()
        except OSError as error:
            raise UsageError(f"--file {path}: {error.strerror or error}") from None
        file = client.upload_file(args.chat_id, path.name, content, media_type=args.media_type)
    answer = client.reply(args.chat_id, text, user_id=args.user_id, file=file["id"] if file else None)
    if args.json:
        print_json(answer)
        return 0
    message = answer.get("message", answer) if isinstance(answer, dict) else {}
    delivery = message.get("delivery") if isinstance(message, dict) else None
    carried = f" with {file['name']} ({file['type']}, {file['size']} bytes)" if file else ""
    print(f"message {message.get('id', '?')} added to chat {args.chat_id}{carried}"
          + (f" (delivery: {delivery})" if delivery else ""))
    return 0
