"""The media feature's own error: a file could not be fetched or stored (the message is kept without it)."""

from __future__ import annotations

from chatbridge.errors import ChatbridgeError


class MediaFetchFailed(ChatbridgeError):
    """A file could not be fetched; the message is stored anyway, its body says why."""
