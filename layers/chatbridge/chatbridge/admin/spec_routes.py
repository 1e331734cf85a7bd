"""Admin routes of the ingest half, as a Powertools ``Router`` the admin function includes.

Incoming webhook specs (``PUT/GET/DELETE /admin/incoming-webhooks/{identifier}``, list, ``simulate``, the
request log) and chats (list, show, messages, close). Specs are validated whole before anything is
stored: an invalid one answers 422 naming each field and the reason. Ids, ``created_at`` and
``updated_at`` belong to the server; a body's copies are ignored so a GET's output can be PUT back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.api_gateway import Response
from pydantic import ValidationError

from chatbridge.admin.http import BadRequest, as_id, invalid, json_object, new_router, not_found
from chatbridge.answers import answer
from chatbridge.errors import PayloadError
from chatbridge.ingest.payload import decode_body

if TYPE_CHECKING:
    from chatbridge.spec.model import IncomingWebhookSpec

# Models and repositories are imported inside the routes that use them: one admin function serves every
# route, and each request should pay only for its own (its cold start is measured by bench/cold_start.py).
router = new_router()
STATUSES = ("pending", "active", "closed")
SERVER_FIELDS = ("id", "created_at", "updated_at", "webhook_path")


def _spec_document(spec: IncomingWebhookSpec) -> dict[str, Any]:
    return {**spec.model_dump(mode="json"), "webhook_path": f"/webhooks/incoming/{spec.identifier}"}


_chat_id = as_id


# -- incoming webhooks (specs) ----------------------------------------------------------------------

@router.put("/admin/incoming-webhooks/<identifier>")
def put_incoming_webhook(identifier: str) -> Response:
    from chatbridge.repository import specs
    from chatbridge.spec.model import IncomingWebhookSpec

    body = {k: v for k, v in json_object(router.current_event).items() if k not in SERVER_FIELDS}
    if "identifier" in body and body["identifier"] != identifier:
        raise BadRequest(f"the body's identifier {body['identifier']!r} differs from the URL's {identifier!r}")
    try:
        spec = IncomingWebhookSpec.model_validate({**body, "identifier": identifier})
    except ValidationError as error:
        return invalid(error)
    stored, created = specs.save_spec(spec)
    return answer(201 if created else 200, _spec_document(stored))


@router.get("/admin/incoming-webhooks")
def list_incoming_webhooks() -> Response:
    from chatbridge.repository import specs

    return answer(200, {"incoming_webhooks": [_spec_document(spec) for spec in specs.list_specs()]})


@router.get("/admin/incoming-webhooks/<identifier>")
def get_incoming_webhook(identifier: str) -> Response:
    from chatbridge.repository import specs

    spec = specs.get_spec(identifier)
    return answer(200, _spec_document(spec)) if spec else not_found("incoming webhook", identifier)


@router.delete("/admin/incoming-webhooks/<identifier>")
def delete_incoming_webhook(identifier: str) -> Response:
    from chatbridge.repository import specs

    if not specs.delete_spec(identifier):
        return not_found("incoming webhook", identifier)
    return answer(200, {"status": "deleted", "identifier": identifier})


@router.post("/admin/incoming-webhooks/<identifier>/simulate")
def simulate(identifier: str) -> Response:
    """Dry run: the stored spec applied to the posted payload (sent as the third party would); writes nothing.

    The engine is imported here, not at module level: the admin function's other routes never map a payload,
    and its cold start is counted against ``import boto3`` (bench/cold_start.py)."""
    from chatbridge.repository import specs
    from chatbridge.spec.mapping import map_payload

    spec = specs.get_spec(identifier)
    if spec is None:
        return not_found("incoming webhook", identifier)
    event = router.current_event
    try:
        payload = decode_body(event.body, content_type=event.headers.get("content-type") or
                              event.headers.get("Content-Type"), is_base64=event.is_base64_encoded)
    except PayloadError as error:
        return answer(error.status, {"status": "error", "code": error.code, "reason": str(error)})
    return answer(200, {"dry_run": True, **map_payload(spec, payload).to_document()})


def _sample(body: dict[str, Any]) -> tuple[bool, Any]:
    """The sample a preview or draft works on: ``payload`` (JSON) or ``body`` (raw text, e.g. Twilio's form
    fields) read with ``content_type`` exactly as the webhook route reads it. (False, None) when absent."""
    if "payload" in body and body["payload"] is not None:
        return True, body["payload"]
    if body.get("body") is not None:
        if not isinstance(body["body"], str):
            raise BadRequest("body must be the raw request body as text (or send a JSON payload as payload)")
        content_type = body.get("content_type") or "application/json"
        if not isinstance(content_type, str):
            raise BadRequest("content_type must be text")
        return True, decode_body(body["body"], content_type=content_type)
    return False, None


@router.post("/admin/spec-previews")
def preview_spec() -> Response:
    """A spec that is not stored yet, applied to a sample: what the editor shows as you type. ``{"spec": {...},
    "payload": ...}`` (or ``"body"`` + ``"content_type"``); 422 naming each invalid field, like a save; writes
    nothing. Without a sample it only checks the spec."""
    from chatbridge.spec.mapping import map_payload
    from chatbridge.spec.model import IncomingWebhookSpec

    body = json_object(router.current_event)
    draft = body.get("spec")
    if not isinstance(draft, dict):
        raise BadRequest("spec must be a JSON object (the incoming webhook spec to preview)")
    draft = {k: v for k, v in draft.items() if k not in SERVER_FIELDS}
    draft.setdefault("identifier", "preview")
    try:
        spec = IncomingWebhookSpec.model_validate(draft)
    except ValidationError as error:
        return invalid(error)
    has_sample, payload = _sample(body)
    if not has_sample:
        return answer(200, {"dry_run": True, "valid": True, "accepted": None, "chats": [], "skipped": []})
    return answer(200, {"dry_run": True, "valid": True, **map_payload(spec, payload).to_document()})


@router.post("/admin/spec-drafts")
def draft_spec() -> Response:
    """Draft from payload: a proposed spec for a provider nobody has described yet, with what each guess was
    and what the draft makes of the sample. ``{"payload": ...}`` (or ``"body"`` + ``"content_type"``),
    optional ``identifier`` and ``name``."""
    from chatbridge.spec.drafts import draft_spec as propose
    from chatbridge.spec.mapping import map_payload
    from chatbridge.spec.model import IncomingWebhookSpec

    body = json_object(router.current_event)
    has_sample, payload = _sample(body)
    if not has_sample:
        raise BadRequest("send the provider's payload as payload (JSON) or body (raw text with content_type)")
    identifier = body.get("identifier") or "draft-webhook"
    name = body.get("name") or "Draft webhook"
    if not isinstance(identifier, str) or not isinstance(name, str):
        raise BadRequest("identifier and name must be text")
    draft = propose(payload, identifier=identifier, name=name)
    try:
        spec = IncomingWebhookSpec.model_validate(draft.spec)
    except ValidationError as error:
        return invalid(error)
    return answer(200, {**draft.to_document(), "preview": map_payload(spec, payload).to_document()})


@router.get("/admin/incoming-webhooks/<identifier>/requests")
def list_requests(identifier: str) -> Response:
    from chatbridge.repository import request_log, specs

    spec = specs.get_spec(identifier)
    if spec is None:
        return not_found("incoming webhook", identifier)
    limit = router.current_event.get_query_string_value("limit", "50") or "50"
    if not 1 <= (as_id(limit) or 0) <= 500:
        raise BadRequest("limit must be a number from 1 to 500")
    return answer(200, {"log_requests": spec.log_requests,
                        "requests": request_log.list_requests(identifier, limit=int(limit))})


# -- chats ------------------------------------------------------------------------------------------

@router.get("/admin/chats")
def list_chats() -> Response:
    """``?incoming=<identifier>&status=pending|active|closed&updated_after=<epoch s>&limit=N``; most recently
    updated first. ``updated_after`` is a poller's cursor: only chats updated later (a new message, a status
    change), across every spec unless ``incoming`` names one: deleted specs too, their chats marked
    ``incoming_deleted`` (a chat outlives its spec, and an operator may still have to read or close it)."""
    from chatbridge.repository import chats, specs

    event = router.current_event
    incoming = event.get_query_string_value("incoming")
    status = event.get_query_string_value("status") or None
    limit = event.get_query_string_value("limit", "100") or "100"
    updated_after = event.get_query_string_value("updated_after") or None
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    if not 1 <= (as_id(limit) or 0) <= 1000:
        raise BadRequest("limit must be a number from 1 to 1000")
    if updated_after is not None and as_id(updated_after) is None:
        raise BadRequest(f"updated_after must be a time in epoch seconds, not {updated_after[:40]!r}")
    since = int(updated_after) if updated_after is not None else None
    if incoming:
        spec = specs.get_spec(incoming)
        if spec is None:
            return not_found("incoming webhook", incoming)
        spec_ids, live = [spec.id], {spec.id}
    else:
        spec_ids, live = specs.ids_ever_assigned(), {spec.id for spec in specs.list_specs()}
    found = [{**chat, "incoming_deleted": spec_id not in live} for spec_id in spec_ids
             for chat in chats.list_chats(spec_id, status=status, updated_after=since, limit=int(limit))]
    found.sort(key=lambda chat: (chat.get("updated_at", 0), chat.get("id", 0)), reverse=True)
    return answer(200, {"chats": found[:int(limit)]})


@router.get("/admin/chats/<chat_id>")
def get_chat(chat_id: str) -> Response:
    from chatbridge.repository import chats, specs

    number = _chat_id(chat_id)
    chat = chats.get_chat(number) if number is not None else None
    if not chat:
        return not_found("chat", chat_id)
    return answer(200, {**chat, "incoming_deleted": specs.get_spec_by_id(chat["iwh_id"]) is None})


@router.get("/admin/chats/<chat_id>/messages")
def list_messages(chat_id: str) -> Response:
    """``?after=<message id>`` pages on (messages come in id order); ``?changed_after=<epoch s>`` keeps the
    messages whose delivery state changed later (queued, sent, failed move the message's ``updated_at``)."""
    from chatbridge.repository import chats

    number = _chat_id(chat_id)
    if number is None or chats.get_chat(number) is None:
        return not_found("chat", chat_id)
    event = router.current_event
    after = event.get_query_string_value("after", "0") or "0"
    changed_after = event.get_query_string_value("changed_after") or None
    if as_id(after) is None:
        raise BadRequest("after must be a message id (a number)")
    if changed_after is not None and as_id(changed_after) is None:
        raise BadRequest(f"changed_after must be a time in epoch seconds, not {changed_after[:40]!r}")
    return answer(200, {"messages": chats.list_messages(
        number, after=int(after), changed_after=int(changed_after) if changed_after is not None else None)})


@router.post("/admin/chats/<chat_id>/close")
def close_chat(chat_id: str) -> Response:
    from chatbridge.repository import chats

    number = _chat_id(chat_id)
    chat = chats.close_chat(number) if number is not None else None
    return answer(200, chat) if chat else not_found("chat", chat_id)
