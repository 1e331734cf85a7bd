"""Applying a ``MappingResult`` to storage: one exactly-once write per mapped chat.

Messages are deduplicated per spec by the provider's message id. A message without one gets an id
derived from the whole payload and its position in it (``derived:<sha256 of the canonical payload>:<index>``):
a retried delivery of the same payload dedups, while two different payloads never collide. The price: a
provider that sends byte-for-byte the same payload twice on purpose (no id, no timestamp) gets one message.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatbridge.ingest.budget import Deadline
from chatbridge.ingest.payload import depth_exceeds
from chatbridge.repository import chats as chat_store
from chatbridge.repository import specs as spec_store
from chatbridge.spec import limits
from chatbridge.spec.mapping import MappedChat, MappedMessage, MappingResult
from chatbridge.spec.model import IncomingWebhookSpec

if TYPE_CHECKING:
    from chatbridge.media.ingest import MediaResult

MAX_MESSAGE_CHARS = limits.MAX_MESSAGE_CHARS  # every stored field's bound lives in chatbridge.spec.limits
MAX_RAW_BYTES = 65_536  # the chat keeps the payload that created it when it is this small...
MAX_RAW_DEPTH = 30  # ...and shallow enough for a DynamoDB map (32 levels)


@dataclass
class IngestOutcome:
    chats: list[int] = field(default_factory=list)  # every chat the request touched, in payload order
    created_chats: list[int] = field(default_factory=list)
    messages: list[dict[str, int]] = field(default_factory=list)  # {"chat_id", "id"} of each new message
    duplicates: int = 0
    skipped: int = 0
    skipped_messages: list[dict[str, Any]] = field(default_factory=list)  # {"index", "reason"}, mapping or storage
    files: list[str] = field(default_factory=list)  # S3 keys of the files stored
    file_failures: list[dict[str, Any]] = field(default_factory=list)  # {"index", "reason"}: stored without file

    def answer(self, *, with_ids: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok", "chats": self.chats, "messages": len(self.messages),
                                "duplicates": self.duplicates, "skipped": self.skipped}
        if with_ids:
            body["created"] = {"chats": self.created_chats, "messages": self.messages}
            body["skipped_messages"] = self.skipped_messages
        return body


def payload_digest(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def dedup_id(message: MappedMessage, digest: str) -> str:
    return message.message_id if message.message_id else f"derived:{digest}:{message.index}"


def new_messages(chat: MappedChat, digest: str, *, now: int,
                 bodies: dict[int, str] | None = None) -> list[chat_store.NewMessage]:
    """The messages to write; ``bodies`` (by payload index) replaces a media message's body with its link."""
    bodies = bodies or {}
    return [chat_store.NewMessage(
        dedup_id=dedup_id(message, digest), message_id=message.message_id or None, kind=message.kind,
        msg=bodies.get(message.index, message.body)[:MAX_MESSAGE_CHARS],
        time=message.time if message.time is not None else now, index=message.index) for message in chat.messages]


def stored_raw(payload: Any, chat: MappedChat) -> Any:
    """The payload that created the chat, or its first message when the payload is too big to keep."""
    for candidate in (payload, chat.messages[0].raw if chat.messages else None):
        if candidate is None or (isinstance(candidate, (dict, list)) and depth_exceeds(candidate, MAX_RAW_DEPTH)):
            continue
        if len(json.dumps(candidate, ensure_ascii=False, default=str).encode("utf-8")) <= MAX_RAW_BYTES:
            return candidate
    return None


def ingest(spec: IncomingWebhookSpec, result: MappingResult, payload: Any, *,
           next_chat_id: Callable[[], int] | None = None, media_base_url: str = "",
           deadline: Deadline | None = None) -> IngestOutcome:
    """Store every mapped chat and its messages; safe to repeat with the same input (retries dedup).

    Media messages' files are fetched and stored first (``media_ingest``); ``media_base_url`` is where
    the API is reachable, for the links. ``deadline`` (``ingest.budget``) bounds the fetches and stops
    before a chat is written once it has passed (``BudgetSpent``: 503, the retry stores the rest).
    """
    assert spec.id is not None, "a stored spec has an id"
    outcome = IngestOutcome(skipped=len(result.skipped),
                            skipped_messages=[{"index": s.index, "reason": s.reason} for s in result.skipped])
    digest = payload_digest(payload)
    media = _store_files(spec.id, [(dedup_id(m, digest), m) for chat in result.chats for m in chat.messages
                                   if m.media is not None], media_base_url, deadline)
    _note_media(outcome, media)
    bodies = {item.index: item.body for item in media}
    now = int(time.time())
    allocate = next_chat_id or (lambda: spec_store.next_id("chat"))
    incoming = {"id": spec.id, "identifier": spec.identifier, "name": spec.name, "scope": spec.scope}
    for chat in result.chats:
        if deadline is not None:
            deadline.check(f"chat {chat.chat_external_id[:80]!r} was written")
        draft = chat_store.ChatDraft(spec_id=spec.id, chat_external_id=chat.chat_external_id, nick=chat.nick,
                                     phone=chat.phone, email=chat.email, incoming=incoming,
                                     attributes=chat.attributes,
                                     raw=stored_raw(payload, chat))
        stored = chat_store.store_messages(draft, new_messages(chat, digest, now=now, bodies=bodies),
                                           next_chat_id=allocate,
                                           on_closed_chat=spec.on_closed_chat, reset_operator=spec.reset_operator)
        _note_refused(outcome, stored)
        if not stored.chat_id:
            continue  # DynamoDB refused every message of a new chat: no chat was made
        if stored.chat_id not in outcome.chats:
            outcome.chats.append(stored.chat_id)
        if stored.chat_created:
            outcome.created_chats.append(stored.chat_id)
        outcome.messages.extend({"chat_id": stored.chat_id, "id": i} for i in stored.message_ids)
        outcome.duplicates += stored.duplicates
    return outcome


def _store_files(spec_id: int, messages: list[tuple[str, MappedMessage]], base_url: str,
                 deadline: Deadline | None = None) -> list[MediaResult]:
    """Fetch and store files; the fetch machinery (HTTP, TLS, S3) is imported only by requests that carry files,
    so a text webhook's cold start does not pay for it."""
    if not messages:
        return []
    from chatbridge.media.ingest import store_media

    return store_media(spec_id, messages, base_url=base_url,
                       budget=deadline.media_budget() if deadline is not None else None)


def _note_refused(outcome: IngestOutcome, stored: chat_store.StoredMessages) -> None:
    """Messages DynamoDB refuses are skipped with its reason, as mapping skips are: the rest are stored and
    the answer stays 200, since retrying the payload would be refused the same way."""
    outcome.skipped += len(stored.refused)
    outcome.skipped_messages.extend({"index": message.index, "reason": f"message {reason}"}
                                    for message, reason in stored.refused)
    outcome.skipped_messages.sort(key=lambda skip: skip["index"] if skip["index"] is not None else -1)


def _note_media(outcome: IngestOutcome, media: list[MediaResult]) -> None:
    outcome.files.extend(item.key for item in media if item.key)
    outcome.file_failures.extend({"index": item.index, "reason": item.failure} for item in media if item.failure)
