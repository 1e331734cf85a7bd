"""Error types shared by every part of chatbridge.

Errors are types, not strings, so a handler can turn them into the right HTTP answer without parsing
messages, and every message says what the sender can do about it.
"""

from __future__ import annotations


class ChatbridgeError(Exception):
    """Base of every error chatbridge raises on purpose (anything else is a bug)."""


class SpecSyntaxError(ChatbridgeError, ValueError):
    """A location, condition or template in a spec cannot be understood.

    A ``ValueError`` too, so pydantic validators turn it into a validation error naming the field.
    """


class PayloadError(ChatbridgeError):
    """A request body chatbridge cannot read; ``status`` is the HTTP status to answer with."""

    status: int = 400
    code: str = "bad_payload"


class EmptyBody(PayloadError):
    code = "empty_body"


class NotBase64(PayloadError):
    code = "not_base64"


class NotUtf8(PayloadError):
    code = "not_utf8"


class NotJson(PayloadError):
    code = "not_json"


class TooDeep(PayloadError):
    code = "too_deep"


class TooLarge(PayloadError):
    status = 413
    code = "too_large"


class UnsupportedContentType(PayloadError):
    status = 415
    code = "unsupported_content_type"


class StoredDefinitionInvalid(ChatbridgeError):
    """A stored REST API or outgoing webhook fails today's checks (it was saved before they tightened): the
    job that needs it fails for good naming the fix (save it again), instead of crashing on every retry."""


class VerificationFailed(ChatbridgeError):
    """The request did not prove it comes from the third party (answered with 401, nothing written)."""

    status = 401


class OutboundUrlRefused(ChatbridgeError):
    """The URL may not be called; permanent (retrying cannot help)."""


class SecretNotFound(ChatbridgeError, LookupError):
    """A header names an SSM parameter that does not exist (permanent until an operator creates it)."""


class StorageConflict(ChatbridgeError):
    """Writers kept racing for one chat; the caller answers 503 so the provider retries."""

    transient = True  # chatbridge.repository.failures: a retry can fix it


class SecretRefused(ChatbridgeError, ValueError):
    """SSM refused a name or value for a reason a retry cannot fix (a 400 for the caller, never a 503)."""


class PresetError(ChatbridgeError, ValueError):
    """A preset cannot be applied as asked (unknown preset, missing or malformed parameter)."""


class LhcImportError(ChatbridgeError, ValueError):
    """The export cannot become a spec at all (no chat id, no message kind, unreadable configuration)."""
