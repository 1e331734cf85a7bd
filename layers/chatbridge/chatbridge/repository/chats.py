"""Chats and messages in CHAT_TABLE, written exactly once.

Item layout (``pk`` / ``sk``; every item has ``type`` so stream filters select records without code):
- ``CHAT#<id>`` / ``CHAT`` (``chat``): the chat, plus ``last_message_id``, the per-chat message counter, and
  ``visitor_messages``, how many of them the visitor wrote (what a console's unread count counts).
- ``CHAT#<id>`` / ``MSG#<id:012d>`` (``message``): messages sort by id inside their chat's partition.
- ``EXT#<spec id>#<chat_external_id>`` / ``EXT`` (``chat_lookup``): which chat a third party's chat id
  currently maps to (a closed chat restarted as a new one moves the pointer).
- ``DEDUP#<spec id>#<message_id>`` / ``DEDUP`` (``message_dedup``): a provider message id already stored.
GSI ``by-incoming`` (``iwh_id`` N, ``updated_at`` N) holds chat items only (sparse: only chats carry
``iwh_id``): the admin list of a spec's chats, newest first.

Every write is one ``TransactWriteItems`` of at most 49 messages: their message and dedup items plus a
conditional write of the chat (and lookup). Conditions make it exactly once without locks: a dedup item
that exists cancels the transaction and names the duplicate, which is dropped before retrying; a chat
counter or status that moved since it was read (a concurrent writer) makes us re-read and retry; a new
chat's lookup item must not exist, so two concurrent first messages create one chat. The chat item is
written in the transaction of its first messages, so no message is ever visible without its chat.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chatbridge.errors import StorageConflict
from chatbridge.repository import chat_cache, tables
from chatbridge.repository.chat_cache import ChatState
from chatbridge.repository.values import CHAT_SNAPSHOT
from chatbridge.spec import limits

CHUNK = 49  # (100 items per transaction - chat - lookup) / (message + dedup)
MAX_CONFLICTS = 12
MAX_TRANSACTION_BYTES = 3_000_000  # DynamoDB allows 4 MB; the new chat's raw payload needs room too
BY_INCOMING = "by-incoming"
_MAX_KEY_PART = 400


@dataclass(frozen=True)
class NewMessage:
    dedup_id: str  # the provider's message id, or one derived from the content
    message_id: str | None  # stored as the message's ``message_id`` (the provider's, or None)
    kind: str
    msg: str
    time: int
    user_id: int = 0  # 0 visitor; -2 the business itself (from its phone or app: an operator message, LHC's -2)
    index: int | None = None  # position in the webhook payload, to name it if it cannot be stored
    author: dict[str, str] | None = None  # {"name", "id"}: who wrote it (a group member)
    name_support: str | None = None  # an operator message's shown name

    def __post_init__(self) -> None:
        """Bounded whoever builds it (``chatbridge.spec.limits``): an over-long id becomes ``sha256:<hex>``, the
        very key part ``dedup_key`` already made of it, so dedup items written before stay valid."""
        object.__setattr__(self, "dedup_id", limits.bounded_id(self.dedup_id))
        if self.message_id is not None:
            object.__setattr__(self, "message_id", limits.bounded_id(self.message_id))
        object.__setattr__(self, "msg", limits.cut(self.msg, limits.MAX_MESSAGE_CHARS))


@dataclass(frozen=True)
class ChatDraft:
    """What a new chat is made of, if one is needed."""

    spec_id: int
    chat_external_id: str
    nick: str
    phone: str | None
    email: str | None
    incoming: dict[str, Any]  # {id, identifier, name, scope}
    raw: Any
    attributes: dict[str, str] = field(default_factory=dict)  # the spec's chat_attributes, for replies
    chat_type: str = "individual"  # "group": a group chat (replies go to the group)
    nick_fallback: bool = False  # the nick is a stand-in (Visitor, a phone): a later real name replaces it

    def __post_init__(self) -> None:
        """Contact fields and attributes cut to ``chatbridge.spec.limits``: a 900 KB nick must not make the chat
        item (400 KB at most) unstorable, and with it every message of the payload."""
        for name, limit in (("nick", limits.MAX_NICK_CHARS), ("phone", limits.MAX_PHONE_CHARS),
                            ("email", limits.MAX_EMAIL_CHARS), ("chat_external_id", limits.MAX_CHAT_ID_CHARS)):
            object.__setattr__(self, name, limits.cut(getattr(self, name), limit))
        object.__setattr__(self, "attributes", limits.bounded_attributes(self.attributes))


@dataclass
class StoredMessages:
    chat_id: int
    chat_created: bool = False
    message_ids: list[int] = field(default_factory=list)
    duplicates: int = 0
    refused: list[tuple[NewMessage, str]] = field(default_factory=list)  # messages DynamoDB would not store


OPERATOR_FIRST = "sent by the business itself, so it does not start a chat (as in Live Helper Chat)"


def _part(text: str) -> str:
    """Key parts stay well under DynamoDB's key size limit; long ones become their SHA-256."""
    return text if len(text) <= _MAX_KEY_PART else "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def chat_key(chat_id: int) -> dict[str, str]:
    return {"pk": f"CHAT#{chat_id}", "sk": "CHAT"}


def message_key(chat_id: int, message_id: int) -> dict[str, str]:
    return {"pk": f"CHAT#{chat_id}", "sk": f"MSG#{message_id:012d}"}


def lookup_key(spec_id: int, chat_external_id: str) -> dict[str, str]:
    return {"pk": f"EXT#{spec_id}#{_part(chat_external_id)}", "sk": "EXT"}


def dedup_key(spec_id: int, dedup_id: str) -> dict[str, str]:
    return {"pk": f"DEDUP#{spec_id}#{_part(dedup_id)}", "sk": "DEDUP"}


def provider_dedup_id(message_id: str, chat_external_id: str | None = None) -> str:
    """The dedup id of a provider message id: as is, or inside its chat when the provider's ids are unique only
    there (``message_id_scope`` 'chat', Telegram). Visitor messages, replies (``provider_message_id``), edits,
    reactions and receipts all find a message through it."""
    return message_id if chat_external_id is None else f"chat:{chat_external_id}:{message_id}"


# -- reads ------------------------------------------------------------------------------------------

def get_chat(chat_id: int) -> dict[str, Any] | None:
    item = tables.chat_table().get_item(Key=chat_key(chat_id), ConsistentRead=True).get("Item")
    return _public_chat(item) if item else None


def get_message(chat_id: int, message_id: int) -> dict[str, Any] | None:
    item = tables.chat_table().get_item(Key=message_key(chat_id, message_id), ConsistentRead=True).get("Item")
    return _public(item) if item else None


def find_chat_id(spec_id: int, chat_external_id: str) -> int | None:
    item = tables.chat_table().get_item(Key=lookup_key(spec_id, chat_external_id), ConsistentRead=True).get("Item")
    return int(item["chat_id"]) if item else None


def list_messages(chat_id: int, *, after: int = 0, changed_after: int | None = None,
                  limit: int = 1000) -> list[dict[str, Any]]:
    """Messages of a chat in id order (ids > ``after``); with ``changed_after``, only those whose delivery
    state changed after that time (``updated_at``, epoch seconds). That filter reads the chat's messages to
    find them (a filter, not a key), which a console pays only while a reply of the open chat is in flight."""
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(chat_key(chat_id)["pk"]) & Key("sk").between(
            f"MSG#{after + 1:012d}", "MSG#999999999999"), "ConsistentRead": True}
    if changed_after is not None:
        kwargs["FilterExpression"] = Attr("updated_at").gt(changed_after)
    messages: list[dict[str, Any]] = []
    while len(messages) < limit:
        answer = tables.chat_table().query(**kwargs)
        messages.extend(_public(item) for item in answer["Items"])
        if "LastEvaluatedKey" not in answer:
            break
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return messages[:limit]


def list_chats(spec_id: int, *, status: str | None = None, updated_after: int | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
    """A spec's chats, most recently updated first (eventually consistent: a GSI); ``updated_after`` (epoch
    seconds) keeps those updated later, on the index's sort key, so a poller's cursor reads only changes."""
    condition = Key("iwh_id").eq(spec_id)
    if updated_after is not None:
        condition = condition & Key("updated_at").gt(updated_after)
    kwargs: dict[str, Any] = {"IndexName": BY_INCOMING, "KeyConditionExpression": condition,
                              "ScanIndexForward": False}
    if status:
        kwargs["FilterExpression"] = "#s = :status"
        kwargs["ExpressionAttributeNames"] = {"#s": "status"}
        kwargs["ExpressionAttributeValues"] = {":status": status}
    chats: list[dict[str, Any]] = []
    while len(chats) < limit:
        answer = tables.chat_table().query(**kwargs)
        chats.extend(_public_chat(item) for item in answer["Items"])
        if "LastEvaluatedKey" not in answer:
            break
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return chats[:limit]


_NOT_PUBLIC = frozenset({"pk", "sk", "type", "last_message_id", CHAT_SNAPSHOT})


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tables.plain(item).items() if k not in _NOT_PUBLIC}


def _public_chat(item: dict[str, Any]) -> dict[str, Any]:
    """A chat as the admin API shows it: with ``last_message_id`` and ``visitor_messages``, so a console can
    count unread visitor messages without reading any (it is not part of ``args.chat``: the reply path reads chats elsewhere)."""
    chat = _public(item)
    chat["last_message_id"] = int(item.get("last_message_id", 0))
    chat["visitor_messages"] = int(item.get("visitor_messages", 0))
    return chat


def close_chat(chat_id: int) -> dict[str, Any] | None:
    """Close a chat (idempotent); None when there is no such chat."""
    try:
        answer = tables.chat_table().update_item(
            Key=chat_key(chat_id), UpdateExpression="SET #s = :closed, updated_at = :now",
            ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":closed": "closed", ":now": int(time.time())}, ReturnValues="ALL_NEW")
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return _public_chat(answer["Attributes"])


# -- the exactly-once write -------------------------------------------------------------------------

# How the chat state a write is built on was learnt, which decides what its transaction must also check:
_READ = "read"  # lookup and chat read now (as they always were before the cache)
_CACHED = "cached"  # this function's own last write (``chat_cache``): the chat's identity is checked too
_RETURNED = "returned"  # the chat item a cancelled transaction returned: the lookup is checked to still name it
_WRITTEN = "written"  # this call's previous chunk
_GUESSED_NEW = "guessed new"  # nothing known, an id at hand: create, and learn from the lookup if it exists


def store_messages(draft: ChatDraft, messages: list[NewMessage], *, next_chat_id: Callable[[], int] | None = None,
                   on_closed_chat: Literal["new_chat", "pending", "active"] = "new_chat",
                   reset_operator: bool = False) -> StoredMessages:
    """Find or create the chat for ``draft`` and append ``messages`` exactly once, in order.

    ``next_chat_id()`` allocates a chat id (called only when a chat must be created); by default ids come
    from the warm function's block (``chat_cache.ChatIds``), and an id whose chat was never written goes
    back to it. Safe to call again with the same input after any failure: stored messages come back as
    duplicates, nothing doubles.

    A warm function knows the chats it wrote (``chat_cache.ChatStates``): the append is then one request,
    conditioned on the counter, status and identity it remembers. A chat it does not know, with an id at
    hand and a visitor's message first, is created without looking first (one request if it is new; if the
    lookup exists, the cancelled transaction names the chat and it is read). Anything that cancels the
    transaction other than a duplicate drops what was remembered and learns the chat again.
    """
    key = (tables.chat_table_name(), draft.spec_id, draft.chat_external_id)
    ids = _ChatIdSource(next_chat_id)
    try:
        stored = _store(draft, messages, key, ids, on_closed_chat, reset_operator)
    except ClientError:
        chat_cache.chat_states.drop(key)
        ids.give_back()  # DynamoDB answered: the transaction holding the id was not applied
        raise
    except BaseException:
        chat_cache.chat_states.drop(key)  # the answer may have been lost after the write: the id may be used
        raise
    ids.give_back()
    return stored


class _ChatIdSource:
    """The id a new chat would get, held across the attempts of one call, given back when no chat took it."""

    def __init__(self, next_chat_id: Callable[[], int] | None) -> None:
        self.allocate = next_chat_id
        self.table = tables.config_table_name() if next_chat_id is None else ""
        self.spare: int | None = None

    def at_hand(self) -> bool:
        return self.spare is not None or (self.allocate is None and chat_cache.chat_ids.at_hand(self.table))

    def take(self) -> int:
        if self.spare is None:
            if self.allocate is not None:
                self.spare = self.allocate()
            else:
                from chatbridge.repository import specs

                self.spare = chat_cache.chat_ids.take(self.table, lambda n: specs.next_ids("chat", n))
        return self.spare

    def used(self) -> None:
        self.spare = None

    def give_back(self) -> None:
        if self.spare is not None and self.allocate is None:
            chat_cache.chat_ids.give_back(self.table, self.spare)
        self.spare = None


def _store(draft: ChatDraft, messages: list[NewMessage], key: tuple[str, int, str], ids: _ChatIdSource,
           on_closed_chat: str, reset_operator: bool) -> StoredMessages:
    pending, duplicates = _unique(messages)
    stored = StoredMessages(chat_id=0, duplicates=duplicates)
    state: ChatState | None = chat_cache.chat_states.get(key)
    origin: str | None = _CACHED if state is not None else None
    pointer: int | None = state.chat_id if state is not None else None
    renewed = False  # a closed chat was already restarted or reopened by this call
    may_guess = state is None  # a chat neither remembered nor yet seen by this call may be guessed new
    conflicts = 0
    one_by_one = 0  # after DynamoDB refused a chunk: this many messages go alone, to find the one it refuses
    while True:
        if origin is None:
            pointer, state, origin = _learn(draft, pending, pointer, ids, may_guess)
        create = state is None or (state.status == "closed" and on_closed_chat == "new_chat" and not renewed)
        while create and pending and pending[0].user_id < 0:
            stored.refused.append((pending[0], OPERATOR_FIRST))
            pending = pending[1:]
        if not pending and create and stored.refused:
            return stored  # every message was refused: no chat without messages
        if not pending:  # all stored, or duplicates: a retry after the chat closed starts no empty chat
            stored.chat_id = state.chat_id if state is not None else stored.chat_id
            return stored
        chunk = _chunk(pending)[:1] if one_by_one > 0 else _chunk(pending)
        if create:
            items, after = _create_items(draft, chunk, ids.take(), pointer)
            head = 2
        else:
            assert state is not None
            items, after = _append_items(draft, state, chunk, on_closed_chat, reset_operator, origin)
            head = 2 if origin == _RETURNED else 1
        try:
            tables.client().transact_write_items(TransactItems=items)
        except ClientError as error:
            cancelled = error.response.get("CancellationReasons") or []
            reasons = [reason.get("Code") for reason in cancelled]
            if chunk and _refused(error, reasons):
                pending, one_by_one = _skip_refused(error, cancelled[:head], chunk, pending, stored, one_by_one)
                continue
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            dup = {i for i in range(len(chunk)) if _failed(reasons, head + 2 * i + 1)}
            stored.duplicates += len(dup)
            pending = [m for i, m in enumerate(pending) if i not in dup]
            if not dup or not reasons or any(_failed(reasons, i) for i in range(head)):
                chat_cache.chat_states.drop(key)
                conflicts += 1
                if conflicts > MAX_CONFLICTS:
                    raise StorageConflict(f"chat {draft.chat_external_id!r} kept changing under concurrent writers; "
                                          "retry the request") from None
                if origin != _CACHED:  # a stale memory is no contention: retry at once
                    time.sleep(random.uniform(0, 0.01 * conflicts))
                state, origin, pointer = _learnt(draft, create, origin == _RETURNED, cancelled, ids)
                may_guess = False  # the chat likely exists: a guess would be a doomed write of the whole chunk
                # in place of the lookup read (the same request count: a cancelled create returns the lookup)
            continue
        first_new = 1 if create else state.last_message_id + 1  # type: ignore[union-attr]
        if create:
            stored.chat_id, stored.chat_created = after.chat_id, True
            ids.used()
        renewed = renewed or create or state.status == "closed"  # type: ignore[union-attr]
        stored.message_ids.extend(range(first_new, after.last_message_id + 1))
        stored.chat_id = after.chat_id
        state, pointer, origin = after, after.chat_id, _WRITTEN
        chat_cache.chat_states.put(key, after)
        pending = pending[len(chunk):]
        one_by_one = max(0, one_by_one - len(chunk))


def _skip_refused(error: ClientError, head: list[dict[str, Any]], chunk: list[NewMessage], pending: list[NewMessage],
                  stored: StoredMessages, one_by_one: int) -> tuple[list[NewMessage], int]:
    """DynamoDB refused the transaction (the same on every retry): when it names the chat's own item, no message
    can be written and all are skipped with the reason at once; otherwise the chunk is retried one message at a
    time until the one it refuses is found and skipped. Returns the messages left and the one-by-one count."""
    refused_head = next((reason for reason in head if reason.get("Code") == "ValidationError"), None)
    if refused_head is not None:
        stored.refused.extend((message, "cannot be stored: DynamoDB refuses its chat ("
                                        f"{refused_head.get('Message') or 'ValidationError'})") for message in pending)
        return [], 0
    if len(chunk) > 1:
        return pending, len(chunk)
    stored.refused.append((chunk[0], "cannot be stored: DynamoDB refuses it ("
                                     f"{error.response['Error'].get('Message') or 'ValidationException'})"))
    return pending[1:], one_by_one - 1


def _learn(draft: ChatDraft, pending: list[NewMessage], pointer: int | None, ids: _ChatIdSource,
           may_guess: bool) -> tuple[int | None, ChatState | None, str]:
    """Read the chat, unless an id is at hand for a visitor's message to a chat no lookup was seen for: then
    guess it is new (a business's own message never starts a chat, so for it the lookup is always read)."""
    if may_guess and pending and pending[0].user_id >= 0 and pointer is None and ids.at_hand():
        return None, None, _GUESSED_NEW
    pointer, state = _read_state(draft, pointer)
    return pointer, state, _READ


def _learnt(draft: ChatDraft, create: bool, checked_lookup: bool, cancelled: list[dict[str, Any]],
            ids: _ChatIdSource) -> tuple[ChatState | None, str | None, int | None]:
    """What a cancelled chat write tells about the chat (``ReturnValuesOnConditionCheckFailure``): a create
    whose lookup exists names the chat it points at (read next, without reading the lookup again); an
    append whose chat moved returns the chat as it is now, used when it is still open and this chat's
    (the next append then checks that the lookup still names it); anything else is read again whole, as is
    a chat the lookup no longer names (an operator's reply reopened a chat that was restarted as a new one)."""
    reasons = [reason.get("Code") for reason in cancelled]
    if create:
        if _failed(reasons, 1):
            ids.used()  # a chat already holds this id (an earlier attempt whose answer was lost): never reuse it
        lookup = tables.cancelled_item(cancelled, 0)
        return None, None, int(lookup["chat_id"]) if lookup and "chat_id" in lookup else None
    if checked_lookup and _failed(reasons, 0):
        return None, None, None
    for index in (0, 1):
        item = tables.cancelled_item(cancelled, index)
        if item and item.get("type") == "chat" and _is_chat_of(item, draft) and item.get("status") != "closed":
            return _state_of(item), _RETURNED, int(item["id"])
    return None, None, None


def _is_chat_of(item: dict[str, Any], draft: ChatDraft) -> bool:
    incoming = item.get("incoming_chat") or {}
    return item.get("iwh_id") == draft.spec_id and incoming.get("chat_external_id") == draft.chat_external_id


def _chunk(pending: list[NewMessage]) -> list[NewMessage]:
    """The next messages that fit one transaction: at most CHUNK, and well under its 4 MB size limit."""
    size = 0
    for count, message in enumerate(pending[:CHUNK]):
        size += len(message.msg.encode("utf-8")) + len(message.dedup_id) + 512
        if size > MAX_TRANSACTION_BYTES and count:
            return pending[:count]
    return pending[:CHUNK]


def _refused(error: ClientError, reasons: list[Any]) -> bool:
    """DynamoDB refuses what was sent (an item over 400 KB, an invalid value): the same every time, so the
    message is skipped rather than the request failed for a retry that would fail again."""
    code = error.response["Error"]["Code"]
    return code == "ValidationException" or (code == "TransactionCanceledException" and "ValidationError" in reasons)


def _failed(reasons: list[Any], index: int) -> bool:
    """Did item ``index`` fail its condition? Without reasons nothing is known: the caller re-reads and retries."""
    return index < len(reasons) and reasons[index] == "ConditionalCheckFailed"


def _unique(messages: list[NewMessage]) -> tuple[list[NewMessage], int]:
    """Drop repeats of a dedup id inside one request (a transaction cannot write one item twice)."""
    seen: set[str] = set()
    unique = []
    for message in messages:
        if message.dedup_id not in seen:
            seen.add(message.dedup_id)
            unique.append(message)
    return unique, len(messages) - len(unique)


def _read_state(draft: ChatDraft, pointer: int | None = None) -> tuple[int | None, ChatState | None]:
    """The lookup (unless a cancelled create just returned it as ``pointer``) and the chat it points at."""
    if pointer is None:
        pointer = find_chat_id(draft.spec_id, draft.chat_external_id)
    if pointer is None:
        return None, None
    item = tables.chat_table().get_item(Key=chat_key(pointer), ConsistentRead=True).get("Item")
    if item is None:  # a lookup whose chat is gone: start a new chat and move the pointer
        return pointer, None
    return pointer, _state_of(item)


def _state_of(item: dict[str, Any]) -> ChatState:
    fallback = bool(item["nick_fallback"]) if "nick_fallback" in item else item.get("nick") == "Visitor"
    return ChatState(chat_id=int(item["id"]) if "id" in item else int(str(item["pk"]).split("#", 1)[1]),
                     last_message_id=int(item.get("last_message_id", 0)), status=str(item.get("status", "pending")),
                     user_id=int(item.get("user_id", 0)), nick_fallback=fallback)


def _message_items(chat_id: int, spec_id: int, chunk: list[NewMessage], first_id: int) -> list[dict[str, Any]]:
    table = tables.chat_table_name()
    items = []
    for offset, message in enumerate(chunk):
        message_id = first_id + offset
        items.append({"Put": {"TableName": table, "Item": {
            **message_key(chat_id, message_id), "type": "message", "chat_id": chat_id, "id": message_id,
            "user_id": message.user_id, "kind": message.kind, "msg": message.msg, "time": message.time,
            "message_id": message.message_id, "delivery": None,
            **({"author": message.author} if message.author else {}),
            **({"name_support": message.name_support} if message.name_support else {})}}})
        items.append({"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)", "Item": {
            **dedup_key(spec_id, message.dedup_id), "type": "message_dedup", "chat_id": chat_id, "id": message_id}}})
    return items


def _visitor_messages(chunk: list[NewMessage]) -> int:
    """How many of these messages the visitor wrote: the chat's ``visitor_messages`` counter grows by it, so a
    console counts unread messages without counting operator replies or messages sent from the provider side."""
    return sum(1 for message in chunk if message.user_id == 0)


def _create_items(draft: ChatDraft, chunk: list[NewMessage], chat_id: int,
                  pointer: int | None) -> tuple[list[dict[str, Any]], ChatState]:
    table = tables.chat_table_name()
    now = int(time.time())
    lookup: dict[str, Any] = {"TableName": table, "ReturnValuesOnConditionCheckFailure": "ALL_OLD", "Item": {
        **lookup_key(draft.spec_id, draft.chat_external_id), "type": "chat_lookup", "chat_id": chat_id,
        "spec_id": draft.spec_id, "chat_external_id": draft.chat_external_id}}
    if pointer is None:
        lookup["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        lookup["ConditionExpression"] = "chat_id = :previous"
        lookup["ExpressionAttributeValues"] = {":previous": pointer}
    chat = {**chat_key(chat_id), "type": "chat", "id": chat_id, "status": "pending", "nick": draft.nick,
            "phone": draft.phone, "email": draft.email, "user_id": 0, "iwh_id": draft.spec_id,
            "chat_variables": {"iwh_id": draft.spec_id},
            "incoming_chat": {"chat_external_id": draft.chat_external_id, "incoming": draft.incoming,
                              "attributes": draft.attributes, "chat_type": draft.chat_type},
            "nick_fallback": draft.nick_fallback,
            "created_at": now, "updated_at": now, "raw": tables.storable(draft.raw), "last_message_id": len(chunk),
            "visitor_messages": _visitor_messages(chunk)}
    items = [{"Put": lookup},
             {"Put": {"TableName": table, "Item": chat, "ConditionExpression": "attribute_not_exists(pk)"}},
             *_message_items(chat_id, draft.spec_id, chunk, 1)]
    return items, ChatState(chat_id=chat_id, last_message_id=len(chunk), status="pending", user_id=0,
                            nick_fallback=draft.nick_fallback)


def _append_items(draft: ChatDraft, state: ChatState, chunk: list[NewMessage], on_closed_chat: str,
                  reset_operator: bool, origin: str) -> tuple[list[dict[str, Any]], ChatState]:
    """The conditional chat update and the messages. Status and operator are written only when a closed chat
    reopens (from a state just read): an open chat's are left as they are, so a remembered state never puts
    back an operator or a status that changed since."""
    spec_id = draft.spec_id
    status, user_id = state.status, state.user_id
    last = state.last_message_id + len(chunk)
    same_counter = "last_message_id = :old" if state.last_message_id else \
        "(attribute_not_exists(last_message_id) OR last_message_id = :old)"
    values: dict[str, Any] = {":last": last, ":now": int(time.time()), ":seen": state.status,
                              ":old": state.last_message_id, ":visitors": _visitor_messages(chunk)}
    sets = ["last_message_id = :last", "updated_at = :now"]
    if status == "closed":  # reopen (on_closed_chat pending/active) as Live Helper Chat does
        user_id = 0 if reset_operator else user_id
        status = "active" if on_closed_chat == "active" and user_id > 0 else "pending"
        sets.append("#s = :status, user_id = :user")
        values.update({":status": status, ":user": user_id})
    condition = f"attribute_exists(pk) AND #s = :seen AND {same_counter}"
    if origin == _CACHED:  # the remembered mapping is proved by the chat itself
        condition += " AND iwh_id = :spec AND incoming_chat.chat_external_id = :external"
        values.update({":spec": spec_id, ":external": draft.chat_external_id})
    nick_fallback = state.nick_fallback
    if state.nick_fallback and not draft.nick_fallback:  # the first real name replaces a stand-in (LHC)
        sets.append("nick = :nick, nick_fallback = :real")
        values.update({":nick": draft.nick, ":real": False})
        nick_fallback = False
    update = {"TableName": tables.chat_table_name(), "Key": chat_key(state.chat_id),
              "UpdateExpression": f"SET {', '.join(sets)} ADD visitor_messages :visitors",
              "ConditionExpression": condition, "ExpressionAttributeNames": {"#s": "status"},
              "ExpressionAttributeValues": values, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    items: list[dict[str, Any]] = [{"Update": update},
                                   *_message_items(state.chat_id, spec_id, chunk, state.last_message_id + 1)]
    if origin == _RETURNED:  # the chat came back from a cancelled write: the lookup must still name it
        items.insert(0, {"ConditionCheck": {
            "TableName": tables.chat_table_name(), "Key": lookup_key(spec_id, draft.chat_external_id),
            "ConditionExpression": "chat_id = :chat", "ExpressionAttributeValues": {":chat": state.chat_id}}})
    return items, ChatState(chat_id=state.chat_id, last_message_id=last, status=status, user_id=user_id,
                            nick_fallback=nick_fallback)


# -- what providers say about stored messages: receipts, provider ids, edits, reactions ----------------------

DELIVERY_ORDER = ("queued", "sent", "delivered", "read")
# a state never moves backwards: what each target may not overwrite (``failed`` is final for receipts; the
# dispatcher's own ``sent`` after an operator's Retry goes through ``reply_storage``, not here)
_NOT_OVER = {"sent": ("sent", "delivered", "read", "failed"), "delivered": ("delivered", "read", "failed"),
             "read": ("read", "failed"), "failed": ("read", "failed")}


def find_message(spec_id: int, dedup_id: str) -> tuple[int, int] | None:
    """(chat id, message id) of the message stored under a provider id (the dedup item points at it)."""
    item = tables.chat_table().get_item(Key=dedup_key(spec_id, limits.bounded_id(dedup_id)),
                                        ConsistentRead=True).get("Item")
    if not item or "chat_id" not in item or "id" not in item:
        return None
    return int(item["chat_id"]), int(item["id"])


def link_provider_message_id(spec_id: int, dedup_id: str, chat_id: int, message_id: int,
                             provider_message_id: str) -> None:
    """A reply's id at the provider (from the send call's answer): kept on the message, and its dedup item
    written, so receipts, and the provider's echo of the very reply (Messenger, WhatsApp), find the message
    instead of storing it twice."""
    provider_message_id = limits.bounded_id(provider_message_id)
    tables.chat_table().update_item(
        Key=message_key(chat_id, message_id), UpdateExpression="SET provider_message_id = :pmid, updated_at = :now",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":pmid": provider_message_id, ":now": int(time.time())})
    point_provider_id_at(spec_id, dedup_id, chat_id, message_id)


def point_provider_id_at(spec_id: int, dedup_id: str, chat_id: int, message_id: int) -> None:
    """The dedup item alone (the reply path writes the id onto the message with its ``sent``, one request)."""
    try:  # a dedup item is never repointed: an id the provider already used for another message keeps its message
        tables.chat_table().put_item(Item={**dedup_key(spec_id, limits.bounded_id(dedup_id)), "type": "message_dedup",
                                           "chat_id": chat_id, "id": message_id},
                                     ConditionExpression="attribute_not_exists(pk)")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def advance_delivery(chat_id: int, message_id: int, state: str) -> Literal["applied", "stale", "not_a_reply"]:
    """Move a reply's ``delivery`` forward to ``state`` (sent < delivered < read; failed unless read): ``stale``
    when that would move it backwards (a late ``delivered`` after ``read``), ``not_a_reply`` for a visitor's or
    the business's own message (a provider reusing an id across directions, as Twilio's test callbacks do)."""
    blocked = _NOT_OVER[state]
    names = [f":b{i}" for i in range(len(blocked))]
    try:
        tables.chat_table().update_item(
            Key=message_key(chat_id, message_id), UpdateExpression="SET delivery = :state, updated_at = :now",
            ConditionExpression=f"attribute_exists(pk) AND user_id > :visitor AND NOT (delivery IN ({', '.join(names)}))",
            ExpressionAttributeValues={":state": state, ":now": int(time.time()), ":visitor": 0,
                                       **dict(zip(names, blocked, strict=True))})
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        current = get_message(chat_id, message_id)
        return "stale" if current is not None and int(current.get("user_id", 0)) > 0 else "not_a_reply"
    return "applied"


def replies_up_to(chat_id: int, moment: int) -> list[int]:
    """Ids of the chat's operator replies written at or before ``moment`` (a read watermark covers them)."""
    return [int(message["id"]) for message in list_messages(chat_id)
            if int(message.get("user_id", 0)) > 0 and int(message.get("time", 0)) <= moment
            and message.get("delivery") in ("sent", "delivered")]


def edit_message(chat_id: int, message_id: int, text: str, edited_at: int) -> bool:
    """Replace a message's text, keeping the previous one in ``history`` ({"msg", "time"}: the text and when it
    was written). False when the text is already this one (a retried edit) or there is no such message."""
    text = limits.cut(text, limits.MAX_MESSAGE_CHARS) or ""
    for _ in range(MAX_CONFLICTS):
        current = get_message(chat_id, message_id)
        if current is None or current.get("msg") == text:
            return False
        previous = {"msg": current.get("msg", ""), "time": int(current.get("edited_at") or current.get("time") or 0)}
        try:
            tables.chat_table().update_item(
                Key=message_key(chat_id, message_id),
                UpdateExpression="SET msg = :text, edited_at = :at, updated_at = :now, "
                                 "history = list_append(if_not_exists(history, :empty), :previous)",
                ConditionExpression="attribute_exists(pk) AND msg = :old",
                ExpressionAttributeValues={":text": text, ":at": edited_at, ":now": int(time.time()), ":empty": [],
                                           ":previous": [previous], ":old": current.get("msg", "")})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            continue  # another edit landed in between: read again
        return True
    raise StorageConflict(f"message {message_id} of chat {chat_id} kept changing; retry the request")


def react(chat_id: int, message_id: int, reaction: str, author: dict[str, str] | None, moment: int) -> bool:
    """Put ``author``'s reaction on a message (one per author, as WhatsApp and Messenger keep it); an empty
    reaction removes theirs. False when nothing changed (a retried delivery) or there is no such message."""
    who = (author or {}).get("id") or (author or {}).get("name") or ""
    for _ in range(MAX_CONFLICTS):
        current = get_message(chat_id, message_id)
        if current is None:
            return False
        before = list(current.get("reactions") or [])
        kept = [r for r in before if ((r.get("author") or {}).get("id") or (r.get("author") or {}).get("name")
                                      or "") != who]
        after = kept + ([{"reaction": reaction[:64], "author": author, "time": moment}] if reaction else [])
        if [(r.get("reaction"), r.get("author")) for r in after] == [(r.get("reaction"), r.get("author"))
                                                                     for r in before]:
            return False
        condition, values = "attribute_exists(pk) AND attribute_not_exists(reactions)", {}
        if "reactions" in current:
            condition, values = "attribute_exists(pk) AND reactions = :before", {":before": before}
        try:
            tables.chat_table().update_item(
                Key=message_key(chat_id, message_id), UpdateExpression="SET reactions = :after, updated_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeValues={":after": tables.storable(after), ":now": int(time.time()),
                                           **tables.storable(values)})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            continue
        return True
    raise StorageConflict(f"message {message_id} of chat {chat_id} kept changing; retry the request")
