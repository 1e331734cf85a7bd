"""How big each stored field may be: the one place the limits live (docs/failure-behaviour.md, "Stored field limits").

A DynamoDB item holds 400 KB and a webhook body may be 1 MiB, so a provider-controlled field stored as sent
could make its item unstorable: the same payload would then fail on every retry and every other message in it
would be lost. Bounded fields keep every item well under 400 KB (4 bytes per character at worst): contact
fields and chat attributes are cut, an over-long message id is kept as its SHA-256 (the form dedup keys
already use, so a retried delivery still dedups), a longer chat id skips its message (``mapping``).
"""

from __future__ import annotations

import hashlib

IDENTIFIER_PATTERN = r"^[A-Za-z0-9_-]{4,64}$"  # a spec's identifier: the URL part /webhooks/incoming/<identifier>
MAX_CHAT_ID_CHARS = 256  # a third party's chat id; a longer one skips its message: it could not be matched again
MAX_NICK_CHARS = 256
MAX_PHONE_CHARS = 64
MAX_EMAIL_CHARS = 320  # RFC 5321: 64 + @ + 255
MAX_CHAT_ATTRIBUTES = 32
MAX_CHAT_ATTRIBUTE_NAME_CHARS = 64
MAX_CHAT_ATTRIBUTE_CHARS = 1_024
MAX_MESSAGE_ID_CHARS = 400  # = the longest key part kept as is (repository.chats); longer: "sha256:<hex>"
MAX_MESSAGE_CHARS = 65_536  # LHC's msg column is similar; 256 KB at worst


def cut(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters (None stays None)."""
    return text if text is None or len(text) <= limit else text[:limit]


def bounded_id(text: str) -> str:
    """An id kept as is up to MAX_MESSAGE_ID_CHARS, else ``sha256:<hex>``: deterministic, so retries match."""
    if len(text) <= MAX_MESSAGE_ID_CHARS:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def bounded_attributes(attributes: dict[str, str] | None) -> dict[str, str]:
    """At most MAX_CHAT_ATTRIBUTES entries (the first ones), names and values cut to their limits."""
    bounded: dict[str, str] = {}
    for name, value in (attributes or {}).items():
        if len(bounded) >= MAX_CHAT_ATTRIBUTES:
            break
        bounded[str(name)[:MAX_CHAT_ATTRIBUTE_NAME_CHARS]] = str(value)[:MAX_CHAT_ATTRIBUTE_CHARS]
    return bounded
