"""The engine: (incoming webhook spec, decoded payload) -> the chats and messages it stands for.

Pure and deterministic: no I/O, no clock. A payload that fails the general conditions, or has no
messages where the spec says, is not accepted (with a reason); a single message that has no chat id or
matches no kind is skipped (with a reason) while the rest of the batch goes on, unlike Live Helper Chat.
Deduplication by ``message_id`` is the ingest's job: two messages with one id are both returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from chatbridge.lang.core import MISSING, is_empty, value_text
from chatbridge.lang.locations import Location
from chatbridge.media.model import MediaRequest, media_request
from chatbridge.spec import limits
from chatbridge.spec.model import CompiledKind, CompiledSpec, IncomingWebhookSpec

DEFAULT_NICK = "Visitor"
MAX_CHAT_ID_LENGTH = limits.MAX_CHAT_ID_CHARS  # every stored field's bound lives in chatbridge.spec.limits
MAX_CHAT_ATTRIBUTE_CHARS = limits.MAX_CHAT_ATTRIBUTE_CHARS  # an address or a number a reply needs, never a document
_MILLISECONDS_FROM = 100_000_000_000  # a "seconds" value past this would be after year 5000


class MappedMessage(BaseModel):
    kind: Literal["text", "image", "attachment"]
    body: str
    message_id: str | None = None
    time: int | None = None
    index: int  # position in the payload's message list
    raw: Any = Field(None, exclude=True, repr=False)  # the message as it came, for the ingest
    # the file to fetch (image/attachment kinds with ``fetch``); ``body`` then shows ``{{file_url}}`` where the
    # ingest puts the link
    media: Any = Field(None, exclude=True, repr=False)  # MediaRequest | None (holds compiled locations)


class MappedChat(BaseModel):
    chat_external_id: str
    nick: str
    phone: str | None = None
    email: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)  # the spec's chat_attributes that were found
    messages: list[MappedMessage] = Field(default_factory=list)


class SkippedMessage(BaseModel):
    index: int
    reason: str


class MappingResult(BaseModel):
    accepted: bool
    reason: str | None = None
    chats: list[MappedChat] = Field(default_factory=list)
    skipped: list[SkippedMessage] = Field(default_factory=list)

    @property
    def message_count(self) -> int:
        return sum(len(chat.messages) for chat in self.chats)

    def to_document(self) -> dict[str, Any]:
        """The JSON document ``chatbridge simulate`` prints (and the admin simulate route returns)."""
        return {
            "accepted": self.accepted,
            "reason": self.reason,
            "chats": [{
                "chat_external_id": chat.chat_external_id, "nick": chat.nick, "phone": chat.phone,
                "email": chat.email, **({"attributes": chat.attributes} if chat.attributes else {}),
                "messages": [_message_document(m) for m in chat.messages],
            } for chat in self.chats],
            "skipped": [{"index": s.index, "reason": s.reason} for s in self.skipped],
        }


def _message_document(message: MappedMessage) -> dict[str, Any]:
    document = {"kind": message.kind, "body": message.body, "message_id": message.message_id, "time": message.time}
    if message.media is not None:
        document["fetch"] = message.media.fetch.describe()
    return document


def map_payload(spec: IncomingWebhookSpec, payload: dict | list) -> MappingResult:
    """Map one decoded payload; never raises on any JSON value."""
    compiled = spec.compiled
    failed = compiled.conditions.first_failure(payload, payload)
    if failed is not None:
        return _refused(f"general conditions not met: {failed.source!r} does not hold")
    messages = _messages_of(compiled, payload)
    if isinstance(messages, str):
        return _refused(messages)
    chats: dict[str, MappedChat] = {}
    skipped: list[SkippedMessage] = []
    for index, message in enumerate(messages):
        outcome = _map_message(compiled, message, payload, index)
        if isinstance(outcome, SkippedMessage):
            skipped.append(outcome)
            continue
        chat_id, mapped = outcome
        chat = chats.get(chat_id)
        if chat is None:
            chat = chats[chat_id] = _new_chat(compiled, chat_id, message, payload)
        elif chat.nick == DEFAULT_NICK or chat.phone is None or chat.email is None or \
                len(chat.attributes) < len(compiled.chat_attributes):
            _fill_contact(compiled, chat, message, payload)
        chat.messages.append(mapped)
    return MappingResult.model_construct(accepted=True, reason=None, chats=list(chats.values()), skipped=skipped)


def _refused(reason: str) -> MappingResult:
    return MappingResult.model_construct(accepted=False, reason=reason, chats=[], skipped=[])


def _messages_of(compiled: CompiledSpec, payload: Any) -> list | str:
    """The message list, or why there is none."""
    if compiled.messages is None:
        return payload if isinstance(payload, list) else [payload]
    where = compiled.messages.source
    found = compiled.messages.first(payload, payload)
    if isinstance(found, list):
        return found if found else f"no messages: {where!r} is an empty list"
    if isinstance(found, dict):
        return [found]
    if found is MISSING or found is None:
        return f"no messages at {where!r}"
    return f"no messages: {where!r} holds a {type(found).__name__}, expected a list or an object"


def _map_message(compiled: CompiledSpec, message: Any, root: Any,
                 index: int) -> SkippedMessage | tuple[str, MappedMessage]:
    chat_id = _text(compiled.chat_id, message, root)
    if chat_id is None:
        return SkippedMessage.model_construct(index=index, reason=f"no chat id at {compiled.chat_id.source!r}")
    if len(chat_id) > MAX_CHAT_ID_LENGTH:
        return SkippedMessage.model_construct(
            index=index, reason=f"chat id at {compiled.chat_id.source!r} is longer than {MAX_CHAT_ID_LENGTH}")
    for kind in compiled.kinds:
        if not kind.conditions.holds(message, root):
            continue
        body = kind.body.render(message, root)
        media = _media(kind, body, message, root)
        if media is not None:
            body = media.preview  # never empty: the file is the message
        elif not body.strip():
            return SkippedMessage.model_construct(
                index=index, reason=f"matched {kind.name} but its body {kind.body.source!r} rendered empty")
        return chat_id, MappedMessage.model_construct(
            kind=kind.kind, body=body, message_id=_text(compiled.message_id, message, root),
            time=_epoch_seconds(compiled.time, message, root), index=index, raw=message, media=media)
    tried = ", ".join(kind.name for kind in compiled.kinds)
    return SkippedMessage.model_construct(index=index, reason=f"matched no message kind (tried {tried})")


def _media(kind: CompiledKind, before: str, message: Any, root: Any) -> MediaRequest | None:
    if kind.fetch is None:
        return None
    after = kind.body_after.render(message, root) if kind.body_after is not None else None
    return media_request(kind.fetch, before, after, message, root)


def _text(location: Location | None, message: Any, root: Any) -> str | None:
    if location is None:
        return None
    value = location.first(message, root)
    if is_empty(value):
        return None
    return value_text(value) or None


def _new_chat(compiled: CompiledSpec, chat_id: str, message: Any, root: Any) -> MappedChat:
    chat = MappedChat.model_construct(chat_external_id=chat_id, nick=DEFAULT_NICK, phone=None, email=None,
                                      attributes={}, messages=[])
    _fill_contact(compiled, chat, message, root)
    return chat


def _fill_contact(compiled: CompiledSpec, chat: MappedChat, message: Any, root: Any) -> None:
    """Nick, phone, email and each chat attribute come from the chat's first message that has them."""
    if chat.nick == DEFAULT_NICK and compiled.nick is not None:
        nick = (compiled.nick.joined(message, root) if compiled.nick_join
                else _text(compiled.nick, message, root))
        if nick and nick.strip():
            chat.nick = nick.strip()
    if chat.phone is None:
        chat.phone = _text(compiled.phone, message, root)
    if chat.email is None:
        chat.email = _text(compiled.email, message, root)
    for name, location in compiled.chat_attributes:
        if name not in chat.attributes:
            value = _text(location, message, root)
            if value is not None:
                chat.attributes[name] = value[:MAX_CHAT_ATTRIBUTE_CHARS]


def _epoch_seconds(location: Location | None, message: Any, root: Any) -> int | None:
    """Epoch seconds from seconds, milliseconds (Viber, Messenger), numeric strings or ISO 8601 text."""
    if location is None:
        return None
    value = location.first(message, root)
    if isinstance(value, bool) or is_empty(value):
        return None
    if isinstance(value, str):
        value = value.strip()
        try:
            value = float(value)
        except ValueError:
            try:
                return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
            except (ValueError, OverflowError, OSError):
                return None
    if not isinstance(value, (int, float)) or value != value or value in (float("inf"), float("-inf")):
        return None
    if abs(value) >= _MILLISECONDS_FROM:
        value = value // 1000
    if abs(value) >= _MILLISECONDS_FROM:  # neither seconds nor milliseconds of any calendar date: unreadable
        return None
    try:
        return int(value)
    except (OverflowError, ValueError):
        return None
