"""The engine: (incoming webhook spec, decoded payload) -> the chats and messages it stands for.

Pure and deterministic: no I/O, no clock. A payload that fails the general conditions, or has no
messages where the spec says, is not accepted (with a reason); a single message that has no chat id or
matches no kind is skipped (with a reason) while the rest of the batch goes on, unlike Live Helper Chat.
Deduplication by ``message_id`` is the ingest's job: two messages with one id are both returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from chatbridge.lang.core import MISSING, is_empty, value_text
from chatbridge.lang.locations import Location
from chatbridge.media.compiled import MediaRequest, media_request
from chatbridge.spec import limits
from chatbridge.spec.compiled import CompiledKind, CompiledReceipt, CompiledSpec

if TYPE_CHECKING:  # the field annotations are text until ``_adapter`` needs them: pydantic is imported there
    from pydantic import Field, TypeAdapter

    from chatbridge.spec.model import IncomingWebhookSpec
    from chatbridge.spec.stored import StoredSpec

DEFAULT_NICK = "Visitor"
OPERATOR_USER_ID = -2  # LHC's sender of messages the business sent from its own phone or app
MAX_CHAT_ID_LENGTH = limits.MAX_CHAT_ID_CHARS  # every stored field's bound lives in chatbridge.spec.limits
MAX_CHAT_ATTRIBUTE_CHARS = limits.MAX_CHAT_ATTRIBUTE_CHARS  # an address or a number a reply needs, never a document
_MILLISECONDS_FROM = 100_000_000_000  # a "seconds" value past this would be after year 5000
_INFINITIES = (float("inf"), float("-inf"))


# The results are plain slotted dataclasses, not pydantic models: one payload makes several, and building a
# model (even with ``model_construct``) cost a third of the mapping time (docs/benchmarks.md). Keyword-only, so
# the fields keep their documented order; ``model_dump_json``/``model_validate`` go through a pydantic
# TypeAdapter built on first use, off the hot path (pydantic itself is imported only then).
@dataclass(slots=True, kw_only=True)
class MappedMessage:
    kind: Literal["text", "image", "attachment"]
    body: str
    message_id: str | None = None
    time: int | None = None
    index: int  # position in the payload's message list
    user_id: int = 0  # 0 visitor, OPERATOR_USER_ID: the business sent it from its own phone or app
    author: dict[str, str] | None = None  # {"name", "id"}: who wrote it (a group member)
    name_support: str | None = None  # operator messages: the name they show
    edit_of: str | None = None  # an edit: the provider id of the message it edits (``body`` is the new text)
    raw: Annotated[Any, Field(exclude=True)] = field(default=None, repr=False)  # the message as it came, for the ingest
    # the file to fetch (image/attachment kinds with ``fetch``); ``body`` then shows ``{{file_url}}`` where the
    # ingest puts the link
    media: Annotated[Any, Field(exclude=True)] = field(default=None, repr=False)  # MediaRequest | None


@dataclass(slots=True, kw_only=True)
class MappedReaction:
    message_id: str  # the provider id of the message reacted to
    reaction: str  # empty: the author's reaction is removed
    author: dict[str, str] | None = None
    time: int | None = None
    index: int


@dataclass(slots=True, kw_only=True)
class MappedChat:
    """Mutable: the chat's later messages fill the contact fields its first message lacked."""

    chat_external_id: str
    nick: str
    phone: str | None = None
    email: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # the spec's chat_attributes that were found
    messages: list[MappedMessage] = field(default_factory=list)
    chat_type: Literal["individual", "group"] = "individual"
    nick_fallback: bool = True  # the nick is DEFAULT_NICK or the spec's nick_fallback: a real one replaces it
    reactions: list[MappedReaction] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class MappedReceipt:
    """A provider's word on a reply: ``message_ids`` (or every reply up to ``watermark``) now ``state``."""

    message_ids: list[str] = field(default_factory=list)
    state: Literal["sent", "delivered", "read", "failed"]
    reason: str | None = None
    chat_external_id: str | None = None
    watermark: int | None = None
    index: int


@dataclass(slots=True, kw_only=True)
class SkippedMessage:
    index: int
    reason: str


@dataclass(slots=True, kw_only=True)
class MappingResult:
    accepted: bool
    reason: str | None = None
    chats: list[MappedChat] = field(default_factory=list)
    skipped: list[SkippedMessage] = field(default_factory=list)
    receipts: list[MappedReceipt] = field(default_factory=list)

    @property
    def message_count(self) -> int:
        return sum(len(chat.messages) for chat in self.chats)

    def model_dump_json(self) -> str:
        """The whole result as JSON (``raw`` and ``media`` left out), as the pydantic model it once was dumped."""
        return _adapter().dump_json(self).decode("utf-8")

    @classmethod
    def model_validate(cls, data: Any) -> MappingResult:
        """A result from its ``model_dump_json`` document, validated."""
        return _adapter().validate_python(data)

    def to_document(self) -> dict[str, Any]:
        """The JSON document ``chatbridge simulate`` prints (and the admin simulate route returns)."""
        return {
            "accepted": self.accepted,
            "reason": self.reason,
            "chats": [{
                "chat_external_id": chat.chat_external_id, "nick": chat.nick, "phone": chat.phone,
                "email": chat.email, **({"attributes": chat.attributes} if chat.attributes else {}),
                **({"chat_type": "group"} if chat.chat_type == "group" else {}),
                "messages": [_message_document(m) for m in chat.messages],
                **({"reactions": [{"message_id": r.message_id, "reaction": r.reaction, "author": r.author,
                                   "time": r.time} for r in chat.reactions]} if chat.reactions else {}),
            } for chat in self.chats],
            "skipped": [{"index": s.index, "reason": s.reason} for s in self.skipped],
            **({"receipts": [_receipt_document(r) for r in self.receipts]} if self.receipts else {}),
        }


@cache
def _adapter() -> TypeAdapter[MappingResult]:
    """Built on first use (``simulate``, tests), so the ingest path never imports pydantic for its results."""
    from pydantic import Field, TypeAdapter

    globals()["Field"] = Field  # the fields' ``Annotated[Any, Field(exclude=True)]`` text is resolved here
    return TypeAdapter(MappingResult)


def _receipt_document(receipt: MappedReceipt) -> dict[str, Any]:
    document: dict[str, Any] = {"message_ids": receipt.message_ids, "state": receipt.state}
    for name in ("reason", "chat_external_id", "watermark"):
        value = getattr(receipt, name)
        if value is not None:
            document[name] = value
    return document


def _message_document(message: MappedMessage) -> dict[str, Any]:
    document: dict[str, Any] = {"kind": message.kind, "body": message.body, "message_id": message.message_id,
                                "time": message.time}
    if message.user_id:
        document["user_id"], document["name_support"] = message.user_id, message.name_support
    if message.author:
        document["author"] = message.author
    if message.edit_of is not None:
        document["edit_of"] = message.edit_of
    if message.media is not None:
        document["fetch"] = message.media.fetch.describe()
    return document


def map_payload(spec: IncomingWebhookSpec | StoredSpec, payload: dict | list) -> MappingResult:
    """Map one decoded payload; never raises on any JSON value.

    Receipts are read first: a payload that only carries receipts (a status callback) is accepted for them even
    though it fails the general conditions or has no messages; an item that is a receipt is no message.
    """
    compiled = spec.compiled
    receipts, receipt_items = _receipts(compiled, payload) if compiled.receipts else ([], _NO_ITEMS)
    conditions = compiled.conditions
    if conditions.clauses and not conditions.holds(payload, payload):
        if receipts:
            return _receipts_only(receipts)
        failed = conditions.first_failure(payload, payload)
        return _refused(f"general conditions not met: {failed.source!r} does not hold")  # type: ignore[union-attr]
    messages = _messages_of(compiled, payload)
    if isinstance(messages, str):
        return _receipts_only(receipts) if receipts else _refused(messages)
    chats: dict[str, MappedChat] = {}
    skipped: list[SkippedMessage] = []
    for index, message in enumerate(messages):
        if id(message) in receipt_items:
            continue
        outcome = _map_message(compiled, message, payload, index)
        if isinstance(outcome, SkippedMessage):
            skipped.append(outcome)
            continue
        chat_id, mapped = outcome
        chat = chats.get(chat_id)
        visitor = isinstance(mapped, MappedMessage) and mapped.user_id == 0 and mapped.edit_of is None
        if chat is None:
            chat = chats[chat_id] = _new_chat(compiled, chat_id, message, payload, fill=visitor)
        elif visitor and (chat.nick_fallback or chat.phone is None or chat.email is None or
                          len(chat.attributes) < len(compiled.chat_attributes)):
            _fill_contact(compiled, chat, message, payload)
        if isinstance(mapped, MappedReaction):
            chat.reactions.append(mapped)
        else:
            chat.messages.append(mapped)
    return MappingResult(accepted=True, chats=list(chats.values()), skipped=skipped, receipts=receipts)


_NO_ITEMS: frozenset[int] = frozenset()


def _receipts_only(receipts: list[MappedReceipt]) -> MappingResult:
    return MappingResult(accepted=True, receipts=receipts)


def _receipts(compiled: CompiledSpec, payload: Any) -> tuple[list[MappedReceipt], frozenset[int] | set[int]]:
    """Every receipt in the payload, and the identities of the items that were receipts (no messages then).

    Runs for every payload of a spec with receipts, most of which carry none: an ``items`` location that finds
    no list or object (WhatsApp's ``statuses`` beside messages) ends its kind at once, and the set of items is
    only made once a receipt is found."""
    found: list[MappedReceipt] = []
    items_seen: frozenset[int] | set[int] = _NO_ITEMS
    for kind in compiled.receipts:
        items = kind.items.first(payload, payload) if kind.items is not None else payload
        if type(items) is not list:
            if not isinstance(items, dict):
                continue  # absent, null or a scalar: no receipt here
            items = (items,)
        holds = kind.conditions.holds
        for index, item in enumerate(items):
            if not isinstance(item, dict) or (items_seen and id(item) in items_seen) or not holds(item, payload):
                continue
            receipt = _receipt(kind, item, payload, index)
            if receipt is not None:
                found.append(receipt)
                if not items_seen:
                    items_seen = set()
                items_seen.add(id(item))  # type: ignore[union-attr]
    return found, items_seen


def _receipt(kind: CompiledReceipt, item: Any, root: Any, index: int) -> MappedReceipt | None:
    state = kind.state
    if state is None and kind.status is not None:
        state = kind.status_map.get(value_text(kind.status.first(item, root)).strip())
    if state is None:
        return None  # a status the spec does not map (WhatsApp's "deleted", open-wa's ack 0): not a receipt
    ids: list[str] = []
    if kind.message_id is not None:
        value = kind.message_id.first(item, root)
        if type(value) is str:  # the common case, without the list's steps: a non-empty text is the id
            ids = [limits.bounded_id(value)] if value else []
        else:
            values = value if isinstance(value, list) else [value]
            ids = [limits.bounded_id(text) for text in (value_text(v) for v in values if not is_empty(v)) if text]
    watermark = _epoch_seconds(kind.watermark, item, root) if kind.watermark is not None else None
    if not ids and watermark is None:
        return None
    reason = _text(kind.reason, item, root) if state == "failed" else None
    return MappedReceipt(message_ids=ids, state=state, reason=reason[:1000] if reason else None,
                         chat_external_id=_text(kind.chat_id, item, root), watermark=watermark, index=index)


def _refused(reason: str) -> MappingResult:
    return MappingResult(accepted=False, reason=reason)


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
                 index: int) -> SkippedMessage | tuple[str, MappedMessage | MappedReaction]:
    operator = compiled.operator is not None and compiled.operator.holds(message, root)
    chat_location = compiled.operator_chat_id if operator and compiled.operator_chat_id is not None \
        else compiled.chat_id
    chat_id = chat_location.text(message, root)
    if chat_id is None:
        return SkippedMessage(index=index, reason=f"no chat id at {chat_location.source!r}")
    if len(chat_id) > MAX_CHAT_ID_LENGTH:
        return SkippedMessage(
            index=index, reason=f"chat id at {chat_location.source!r} is longer than {MAX_CHAT_ID_LENGTH}")
    # an operator message shows name_support, not an author: beside an echo, the payload's contacts are the visitor
    author = None if operator or (compiled.author_name is None and compiled.author_id is None) \
        else _author(compiled, message, root)
    time = _epoch_seconds(compiled.time, message, root) if compiled.time is not None else None
    reaction = compiled.reaction
    if reaction is not None and reaction.conditions.holds(message, root):
        target = _text(reaction.message_id, message, root)
        if target is None:
            return SkippedMessage(
                index=index, reason=f"a reaction without the id of its message at {reaction.message_id.source!r}")
        return chat_id, MappedReaction(
            message_id=target, reaction=value_text(reaction.reaction.first(message, root)).strip(), author=author,
            time=time, index=index)
    user_id, name_support = (OPERATOR_USER_ID, compiled.name_support) if operator else (0, None)
    edit = compiled.edit
    if edit is not None and edit.conditions.holds(message, root):
        original = _text(edit.message_id, message, root)
        body = edit.body.render(message, root)
        if original is not None and body.strip():
            return chat_id, MappedMessage(
                kind="text", body=body, message_id=None, time=time, index=index, user_id=user_id, author=author,
                name_support=name_support, edit_of=original, raw=message)
    position = compiled.kind_of.index(message, root)  # the first kind whose conditions hold
    if position >= 0:
        kind = compiled.kinds[position]
        body = kind.body.render(message, root)
        media = _media(kind, body, message, root) if kind.fetch is not None else None
        if media is not None:
            body = media.preview  # never empty: the file is the message
        elif not body.strip():
            return SkippedMessage(
                index=index, reason=f"matched {kind.name} but its body {kind.body.source!r} rendered empty")
        message_id = compiled.message_id.text(message, root) if compiled.message_id is not None else None
        return chat_id, MappedMessage(
            kind=kind.kind, body=body, message_id=message_id, time=time, index=index,
            user_id=user_id, author=author, name_support=name_support, raw=message, media=media)
    tried = ", ".join(kind.name for kind in compiled.kinds)
    if not compiled.store_unsupported:
        return SkippedMessage(index=index, reason=f"matched no message kind (tried {tried})")
    kind_name = _text(compiled.message_type, message, root) or "unknown"
    return chat_id, MappedMessage(
        kind="text", body=f"[unsupported: {kind_name[:100]}]", message_id=_text(compiled.message_id, message, root),
        time=time, index=index, user_id=user_id, author=author, name_support=name_support, raw=message)


def _author(compiled: CompiledSpec, message: Any, root: Any) -> dict[str, str] | None:
    name = compiled.author_name.text(message, root) if compiled.author_name is not None else None
    author_id = compiled.author_id.text(message, root) if compiled.author_id is not None else None
    if name is None and author_id is None:
        return None
    return {"name": (name or author_id or "")[:limits.MAX_NICK_CHARS], "id": (author_id or "")[:limits.MAX_NICK_CHARS]}


def _media(kind: CompiledKind, before: str, message: Any, root: Any) -> MediaRequest | None:
    if kind.fetch is None:
        return None
    after = kind.body_after.render(message, root) if kind.body_after is not None else None
    return media_request(kind.fetch, before, after, message, root)


def _text(location: Location | None, message: Any, root: Any) -> str | None:
    """The location's text, None when it is not configured, empty, or its text is ''.

    The paths every message takes write ``location.text(...) if location is not None else None`` out instead:
    most specs leave several locations unset, and the test alone costs less than this call."""
    return location.text(message, root) if location is not None else None


def _new_chat(compiled: CompiledSpec, chat_id: str, message: Any, root: Any, *, fill: bool = True) -> MappedChat:
    chat = MappedChat(chat_external_id=chat_id, nick=DEFAULT_NICK)
    if compiled.group is not None and compiled.group.holds(message, root):
        chat.chat_type = "group"
    if fill:
        _fill_contact(compiled, chat, message, root)
    return chat


def _fill_contact(compiled: CompiledSpec, chat: MappedChat, message: Any, root: Any) -> None:
    """Nick, phone, email and each chat attribute come from the chat's first message that has them; a group's nick
    is its name (``chat_name``), never a member's, and its phone is never the group's id."""
    group = chat.chat_type == "group"
    if chat.nick_fallback:
        name = compiled.chat_name.text(message, root) if compiled.chat_name is not None else None
        if name and name.strip():
            chat.nick, chat.nick_fallback = name.strip(), False
        elif not group and compiled.nick is not None:
            nick = (compiled.nick.joined(message, root) if compiled.nick_join
                    else compiled.nick.text(message, root))
            if nick and nick.strip():
                chat.nick, chat.nick_fallback = nick.strip(), False
        if chat.nick_fallback and chat.nick == DEFAULT_NICK and not group and compiled.nick_fallback is not None:
            fallback = compiled.nick_fallback.text(message, root)
            if fallback and fallback.strip():
                chat.nick = fallback.strip()
    if chat.phone is None and not group and compiled.phone is not None:
        chat.phone = compiled.phone.text(message, root)
    if chat.email is None and compiled.email is not None:
        chat.email = compiled.email.text(message, root)
    for name, location in compiled.chat_attributes:
        if name not in chat.attributes:
            value = location.text(message, root)
            if value is not None:
                chat.attributes[name] = value[:MAX_CHAT_ATTRIBUTE_CHARS]


def _epoch_seconds(location: Location | None, message: Any, root: Any) -> int | None:
    """Epoch seconds from seconds, milliseconds (Viber, Messenger), numeric strings or ISO 8601 text."""
    if location is None:
        return None
    value = location.first(message, root)
    if type(value) is int:  # Telegram's seconds, Viber's milliseconds: the rules below without the other types' checks
        if abs(value) >= _MILLISECONDS_FROM:
            value //= 1000
            if abs(value) >= _MILLISECONDS_FROM:
                return None
        return value
    if isinstance(value, bool) or is_empty(value):
        return None
    if isinstance(value, str):
        value = value.strip()
        if value.isascii() and value.isdigit() and len(value) < 16:
            value = int(value)  # WhatsApp's seconds as text: the integer float() would give, without the float
        else:
            try:
                value = float(value)
            except ValueError:
                try:
                    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
                except (ValueError, OverflowError, OSError):
                    return None
    if not isinstance(value, (int, float)) or value != value or value in _INFINITIES:
        return None
    if abs(value) >= _MILLISECONDS_FROM:
        value = value // 1000
    if abs(value) >= _MILLISECONDS_FROM:  # neither seconds nor milliseconds of any calendar date: unreadable
        return None
    try:
        return int(value)
    except (OverflowError, ValueError):
        return None
