"""The synthetic webhook the AWS benchmarks post: one chat, N messages, each with a provider message id.

A batch spec (``messages`` is a list) lets one request carry 1, 100 or 1,000 messages, the sizes the
issue asks for; each message has an id, so the ingest deduplicates on it as it would for a real provider.
"""

from __future__ import annotations

from typing import Any

IDENTIFIER = "bench-batch"
SPEC: dict[str, Any] = {
    "identifier": IDENTIFIER, "name": "Benchmark batch", "scope": "bench", "messages": "messages",
    "chat_id": "chat", "nick": "name", "message_id": "id", "time": "t", "conditions": "kind=message",
    "text": [{"body": "{{msg.text}}"}],
}
TIME = 1_700_000_000


def message_text(index: int) -> str:
    return f"hello {index}, is my order ready? (benchmark message)"


def payload(count: int, *, start: int = 0, chat: str = "bench-chat-1") -> dict[str, Any]:
    """``count`` messages for ``chat`` with ids ``m<start>`` ... (distinct ids: none is a duplicate)."""
    return {"kind": "message", "messages": [
        {"chat": chat, "name": "Ana", "id": f"m{i}", "text": message_text(i), "t": TIME + i}
        for i in range(start, start + count)]}


def store_spec() -> Any:
    from chatbridge.repository import specs
    from chatbridge.spec.model import IncomingWebhookSpec

    stored, _ = specs.save_spec(IncomingWebhookSpec.model_validate(SPEC))
    return stored
