"""What a warm function remembers between requests, so a message to a known chat costs one request.

- ``ChatStates``: per chat table, (spec id, chat external id) -> the chat's id, counter, status, operator and
  nick state as this function last wrote them. An LRU of ``CACHED_CHATS`` entries: a flood of new chats
  evicts the oldest, never grows the function's memory. Nothing here is trusted: the append transaction is
  conditioned on exactly these values (``repository.chats``), so a stale entry (a chat closed, reopened,
  written by another function or an operator) cancels it and is read again. An entry only ever holds a
  chat this function left open (pending or active), so a closed chat is always read fresh.
- ``ReplyChats``: per chat table, chat id -> the chat item as this function's last operator reply left it
  (``repository.reply_storage``): the next reply to it is one transaction conditioned on that chat's counter,
  status, operator, nick and ``updated_at``, and its message carries the chat for the evaluator.
- ``ChatIds``: per config table, a block of ``CHAT_ID_BLOCK`` chat ids taken with one counter update, so a
  new chat needs no allocation request of its own. Ids stay unique; an instance that ends leaves the rest of
  its block unused (a gap), and two instances' chats interleave out of creation order.

All are dropped by ``caches.forget_all`` (a fresh moto, a benchmark run). All are per process, like a
Lambda instance's memory: ``chatbridge local`` runs each invocation in a worker process of its own
(``local.runtime``), so its workers are separate instances. All are guarded by a lock because the tests
call handlers from threads of one process; such threads share one memory and one block of ids, and a
thread's write remembered after a newer one is only a stale entry, which the conditions catch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

CACHED_CHATS = 4096  # under 1 KB each (external ids are at most 256 characters): a few megabytes at most
REPLY_CHATS = 1024  # a chat item without its raw payload: a few KB at most (bounded fields), a few MB in all
CHAT_ID_BLOCK = 10  # one UpdateItem per ten new chats; at most nine ids unused when an instance ends

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class ChatState:
    chat_id: int
    last_message_id: int
    status: str
    user_id: int
    nick_fallback: bool = False


class Lru(Generic[K, V]):
    """A bounded LRU: a flood of new keys evicts the oldest entries, never grows the function's memory."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class ChatStates(Lru[tuple[str, int, str], ChatState]):
    """Chat states, keyed by (chat table, spec id, chat external id)."""

    def __init__(self, size: int = CACHED_CHATS) -> None:
        super().__init__(size)


class ReplyChats(Lru[tuple[str, int], dict[str, Any]]):
    """What an operator-reply writer (the admin function; the dispatcher for saved answers) remembers: per
    (chat table, chat id), the chat item (without ``raw``) as its last append left it, so the next append is
    one transaction conditioned on it, and the message it writes carries that chat (``chat_snapshot``)."""

    def __init__(self, size: int = REPLY_CHATS) -> None:
        super().__init__(size)


class ChatIds:
    """Chat ids handed out from blocks; an id given back (its chat was never written) is handed out next."""

    def __init__(self, block: int = CHAT_ID_BLOCK) -> None:
        self.block = block
        self._free: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def at_hand(self, table: str) -> bool:
        """Is an id ready without a request? Only then does ingest try to create a chat before looking it up."""
        with self._lock:
            return bool(self._free.get(table))

    def take(self, table: str, allocate: Callable[[int], range]) -> int:
        with self._lock:  # a refill under the lock: threads of one process share one block
            free = self._free.setdefault(table, [])
            if not free:
                free.extend(reversed(allocate(self.block)))
            return free.pop()

    def give_back(self, table: str, chat_id: int) -> None:
        with self._lock:
            self._free.setdefault(table, []).append(chat_id)

    def clear(self) -> None:
        with self._lock:
            self._free.clear()


chat_states = ChatStates()
chat_ids = ChatIds()
reply_chats = ReplyChats()


def forget() -> None:
    chat_states.clear()
    reply_chats.clear()
    chat_ids.clear()
