"""A stored spec as the ingest path reads it: its fields as attributes and its compiled form, no pydantic model.

A spec in ``CONFIG_TABLE`` was validated when the admin saved it, and is stored as the model's whole dump
(every field, defaults included, normalised). Building the validation models (``IncomingWebhookSpec`` and
the media, receipt and verification models under it) costs a cold ingest function ~100 ms and importing
pydantic ~40 ms more (docs/benchmarks.md, cold start), for checks that already passed. ``load_stored_spec``
therefore reads a stored spec whose fields are exactly the models' (``_FIELDS``) as a ``StoredSpec`` and
compiles it with the same ``spec.compiled.compile_spec``; anything else (a spec saved before a field was
added, a key the model does not know) goes through ``IncomingWebhookSpec.model_validate`` as before, so such
a spec behaves exactly as it always did. ``tests/unit/test_stored_spec.py`` keeps ``_FIELDS`` equal to the
models' fields and the two readings equal for every preset and test spec.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from chatbridge.spec.compiled import CompiledSpec, compile_spec

if TYPE_CHECKING:
    from chatbridge.spec.model import IncomingWebhookSpec

# model -> its fields; a field's value is the model of its nested value ("[model]": a list of them), or None
_FIELDS: dict[str, dict[str, str | None]] = {
    "IncomingWebhookSpec": {
        **dict.fromkeys(("id", "identifier", "name", "scope", "enabled", "log_requests", "preset", "messages",
                         "chat_id", "nick", "nick_combine", "phone", "email", "time", "message_id", "chat_attributes",
                         "nick_fallback", "message_id_scope", "author_name", "author_id", "chat_name", "group",
                         "operator", "operator_chat_id", "name_support", "message_type", "unsupported", "conditions",
                         "on_closed_chat", "reset_operator", "attributes", "chat_id_template", "created_at",
                         "updated_at")),
        "verification": "Verification", "receipts": "[ReceiptKind]", "edits": "EditKind",
        "reactions": "ReactionKind", "text": "[MessageKind]", "image": "MediaKind", "attachment": "MediaKind"},
    "MessageKind": {"conditions": None, "body": None},
    "MediaKind": {"conditions": None, "body": None, "fetch": "MediaFetch"},
    "MediaFetch": {**dict.fromkeys(("url", "method", "headers", "body", "response", "location", "content_type",
                                    "filename", "hosts", "max_bytes", "timeout")), "resolve": "MediaResolve"},
    "MediaResolve": dict.fromkeys(("url", "method", "headers", "body", "location")),
    "ReceiptKind": dict.fromkeys(("items", "conditions", "message_id", "status", "status_map", "state", "reason",
                                  "chat_id", "watermark")),
    "EditKind": dict.fromkeys(("conditions", "message_id", "body")),
    "ReactionKind": dict.fromkeys(("conditions", "message_id", "reaction")),
    "Verification": {"shared_secret": "SharedSecret", "hmac": "HmacSignature", "twilio": "TwilioSignature",
                     "handshake": "Handshake"},
    "SharedSecret": dict.fromkeys(("header", "query", "value")),
    "HmacSignature": dict.fromkeys(("header", "secret", "algorithm", "encoding", "prefix")),
    "TwilioSignature": dict.fromkeys(("header", "auth_token", "url")),
    "Handshake": dict.fromkeys(("verify_token",)),
}
_FLOATS = {("MediaFetch", "timeout")}  # float fields: DynamoDB hands 10.0 back as 10, pydantic as 10.0


class StoredSpec(SimpleNamespace):
    """A stored spec's fields as attributes (nested kinds alike), with ``compiled`` for ``map_payload``.

    Read-only by convention: the ingest path and the reply path's spec cache only read it."""

    compiled: CompiledSpec


class _Fields(SimpleNamespace):
    """A nested part of a stored spec (a kind, a fetch, the verification), read by attribute."""


class _NotLikeTheModel(Exception):
    """The stored document does not have exactly the models' fields: the model reads it instead."""


def load_stored_spec(body: dict[str, Any]) -> StoredSpec | IncomingWebhookSpec:
    """A stored spec's document (without its keys) as the ingest path uses it; see the module docstring."""
    try:
        fields = _read("IncomingWebhookSpec", body)
    except _NotLikeTheModel:
        from chatbridge.spec.model import IncomingWebhookSpec

        return IncomingWebhookSpec.model_validate(body)
    spec = StoredSpec(**fields)
    spec.compiled = compile_spec(spec)
    return spec


def _read(model: str, document: Any) -> dict[str, Any]:
    fields = _FIELDS[model]
    if not isinstance(document, dict) or document.keys() != fields.keys():
        raise _NotLikeTheModel(model)
    values = dict(document)
    for name, nested in fields.items():
        value = values[name]
        if nested is not None and value is not None:
            if nested.startswith("["):
                if not isinstance(value, list):
                    raise _NotLikeTheModel(f"{model}.{name}")
                values[name] = [_Fields(**_read(nested[1:-1], item)) for item in value]
            else:
                values[name] = _Fields(**_read(nested, value))
        elif (model, name) in _FLOATS and isinstance(value, int) and not isinstance(value, bool):
            values[name] = float(value)
    return values
