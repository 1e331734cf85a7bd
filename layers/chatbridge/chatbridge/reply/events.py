"""What a DynamoDB stream record of the chat table means for outgoing webhooks (pure, no AWS call).

``chat.web_add_msg_admin`` (operator message inserted), ``chat.addmsguser`` (visitor message inserted),
``chat.close`` (a chat's status became ``closed``), ``chat.started`` (chat inserted), ``chat.message_edited``
(a message's text replaced by the provider's edit: its ``edited_at`` moved); and the ``args`` a
rule and a REST API template see, shaped as Live Helper Chat exposes them, plus ``args.file`` for a message
that carries an operator's file (``url``, ``name``, ``type``, ``kind``, ``size``, ``caption``: the text
without the file's markup), so one outgoing webhook can send text and another files, as LHC's do.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pydantic import BaseModel

from chatbridge.lang.core import value_text
from chatbridge.reply.webhooks import EventName
from chatbridge.repository.values import CHAT_SNAPSHOT, plain

_DESERIALIZER = TypeDeserializer()


def image(record: dict[str, Any], which: str) -> dict[str, Any] | None:
    """``NewImage``/``OldImage`` of a stream record as plain Python (TypeDeserializer, no AWS call)."""
    raw = (record.get("dynamodb") or {}).get(which)
    if not raw:
        return None
    return plain({key: _DESERIALIZER.deserialize(value) for key, value in raw.items()})


class ChatEvent(BaseModel):
    """What a stream record means for outgoing webhooks."""

    name: EventName
    chat_id: int
    chat: dict[str, Any] | None = None      # the chat image when the record is a chat, or the chat a new
    # message carries (``chat_snapshot``); None: the chat must be read
    message: dict[str, Any] | None = None   # the message image when the record is a message


def event_of(record: dict[str, Any]) -> ChatEvent | None:
    """The event a stream record stands for, or ``None`` when it fires nothing.

    Raises ``ValueError`` for a record that claims to be a chat or message but lacks its ids: such a
    record is reported as a batch item failure instead of being silently dropped.
    """
    kind = record.get("eventName")
    new, old = image(record, "NewImage"), image(record, "OldImage")
    if new is None:
        return None
    item_type = new.get("type")
    if item_type == "message" and kind == "INSERT":
        chat_id, user_id = new.get("chat_id"), new.get("user_id")
        if not isinstance(chat_id, int) or not isinstance(user_id, int) or "id" not in new:
            raise ValueError(f"message record without integer chat_id/user_id/id: {sorted(new)}")
        if user_id > 0:
            name = "chat.web_add_msg_admin"
        elif user_id == 0:
            name = "chat.addmsguser"
        else:
            return None  # system messages (user_id -1) fire nothing, as in LHC
        # the chat as the write that stored the message left it (operator replies carry it): no chat read
        snapshot = new.get(CHAT_SNAPSHOT)
        return ChatEvent(name=name, chat_id=chat_id, message=new,
                         chat=snapshot if isinstance(snapshot, dict) and snapshot.get("id") == chat_id else None)
    if item_type == "message" and kind == "MODIFY" and new.get("edited_at") is not None and \
            (new.get("edited_at"), new.get("msg")) != ((old or {}).get("edited_at"), (old or {}).get("msg")):
        chat_id = new.get("chat_id")
        if not isinstance(chat_id, int) or "id" not in new:
            raise ValueError(f"message record without integer chat_id/id: {sorted(new)}")
        return ChatEvent(name="chat.message_edited", chat_id=chat_id, message=new)
    if item_type == "chat":
        chat_id = new.get("id")
        if not isinstance(chat_id, int):
            raise ValueError(f"chat record without an integer id: {sorted(new)}")
        if kind == "INSERT":
            return ChatEvent(name="chat.started", chat_id=chat_id, chat=new)
        if kind == "MODIFY" and new.get("status") == "closed" and (old or {}).get("status") != "closed":
            return ChatEvent(name="chat.close", chat_id=chat_id, chat=new)
    return None


_FILE_ARGS = ("url", "name", "type", "kind", "size")
_KEY_ATTRIBUTES = frozenset({"pk", "sk", "PK", "SK", "gsi1pk", "gsi1sk", "ttl", "expires_at"})
# The chat's raw payload stays out of args: jobs carry args through SQS (256 KB) and LHC's args.chat has none.
# What a reply needs from the payload is kept as incoming_chat.attributes (the spec's chat_attributes).
_NOT_IN_ARGS = _KEY_ATTRIBUTES | {"raw"}
_NOT_IN_MSG = _KEY_ATTRIBUTES | {CHAT_SNAPSHOT}  # the chat is args.chat, not part of the message


def build_args(chat: dict[str, Any], message: dict[str, Any] | None) -> dict[str, Any]:
    """``args`` as LHC exposes it: ``chat`` (with ``iwh_id`` and ``chat_variables_array``) and ``msg``."""
    chat = {key: value for key, value in plain(chat).items() if key not in _NOT_IN_ARGS}
    variables = chat.get("chat_variables") if isinstance(chat.get("chat_variables"), dict) else {}
    if "iwh_id" not in chat and "iwh_id" in variables:
        chat["iwh_id"] = variables["iwh_id"]
    variables = dict(variables)
    if "iwh_id" in chat:
        variables.setdefault("iwh_id", chat["iwh_id"])
    chat["chat_variables"] = variables
    chat["chat_variables_array"] = variables
    incoming_chat = chat.get("incoming_chat")
    if isinstance(incoming_chat, dict) and "chat_type" not in incoming_chat:
        chat["incoming_chat"] = {**incoming_chat, "chat_type": "individual"}  # chats stored before groups
    args: dict[str, Any] = {"chat": chat}
    if message is not None:
        args["msg"] = {key: value for key, value in plain(message).items() if key not in _NOT_IN_MSG}
        file = args["msg"].get("file")
        if isinstance(file, dict):
            from chatbridge.reply.rest_api import msg_clean  # files only: the evaluator renders nothing else

            args["file"] = {**{key: file.get(key) for key in _FILE_ARGS},
                            "caption": msg_clean(value_text(args["msg"].get("msg")))}
    return args

