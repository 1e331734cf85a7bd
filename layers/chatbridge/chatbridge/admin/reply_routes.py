"""Admin routes of the reply path, as a Powertools ``Router`` the admin function includes.

``POST /admin/chats/{id}/messages`` (operator reply), ``PUT/GET/DELETE /admin/webhooks/{id}``,
``PUT/GET/DELETE /admin/rest-apis/{id}``, ``GET /admin/deliveries?chat_id=``, ``POST /admin/deliveries/redrive``,
``POST /admin/deliveries/redrive-stream`` (stream records the evaluator gave up on),
``POST /admin/chats/{id}/messages/{message_id}/retry`` (an operator's Retry of one failed reply).
Invalid definitions answer 422 naming the field and the reason; nothing is stored half-checked.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatbridge.admin.http import BadRequest, as_id, invalid, json_body, new_router, not_found
from chatbridge.answers import answer

router = new_router()
REDRIVE_SECONDS = 20.0  # one redrive request's work, inside API Gateway's 29 s; `remaining` says to call again
REDRIVE_LIMIT = 1000


class OperatorMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msg: str = Field("", max_length=65536)
    user_id: int = Field(gt=0, lt=10**18, description="the operator answering; 0 and below are visitor/system ids")
    file: str | None = Field(None, max_length=100, description="the id POST /admin/chats/{id}/files answered")

    @model_validator(mode="after")
    def _says_something(self) -> OperatorMessage:
        if not self.msg.strip() and self.file is None:
            raise ValueError("msg: the message is empty (give a text, a file, or both)")
        return self


def _definition(item_id: str) -> dict[str, Any]:
    body = json_body(router.current_event)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    if "id" in body and str(body["id"]) != item_id:
        raise BadRequest(f"the body's id {body['id']!r} differs from the URL's {item_id!r}")
    return {**body, "id": item_id}


# -- outgoing webhooks ------------------------------------------------------------------------------

@router.put("/admin/webhooks/<webhook_id>")
def put_webhook(webhook_id: str) -> Response:
    from chatbridge.reply.webhooks import OutgoingWebhook
    from chatbridge.repository import outgoing

    try:
        webhook = OutgoingWebhook.model_validate(_definition(webhook_id))
    except ValidationError as error:
        return invalid(error)
    if outgoing.get_rest_api(webhook.rest_api_id) is None:
        return answer(422, {"status": "invalid", "reason": f"rest_api_id: no REST API {webhook.rest_api_id!r} "
                                                              "(store it first with PUT /admin/rest-apis/{id})",
                             "errors": [{"field": "rest_api_id", "reason": "unknown REST API"}]})
    created = outgoing.put_webhook(webhook)
    return answer(201 if created else 200, webhook.model_dump())


@router.get("/admin/webhooks")
def list_webhooks() -> Response:
    from chatbridge.repository import outgoing

    return answer(200, {"webhooks": [webhook.model_dump() for webhook in outgoing.list_webhooks()]})


@router.get("/admin/webhooks/<webhook_id>")
def get_webhook(webhook_id: str) -> Response:
    from chatbridge.repository import outgoing

    webhook = outgoing.get_webhook(webhook_id)
    return answer(200, webhook.model_dump()) if webhook else not_found("outgoing webhook", webhook_id)


@router.delete("/admin/webhooks/<webhook_id>")
def delete_webhook(webhook_id: str) -> Response:
    from chatbridge.repository import outgoing

    if not outgoing.delete_webhook(webhook_id):
        return not_found("outgoing webhook", webhook_id)
    return answer(200, {"status": "deleted", "id": webhook_id})


# -- REST APIs ------------------------------------------------------------------------------------

@router.put("/admin/rest-apis/<rest_api_id>")
def put_rest_api(rest_api_id: str) -> Response:
    from chatbridge.reply.rest_api import RestApi
    from chatbridge.repository import outgoing

    try:
        rest_api = RestApi.model_validate(_definition(rest_api_id))
    except ValidationError as error:
        return invalid(error)
    created = outgoing.put_rest_api(rest_api)
    return answer(201 if created else 200, rest_api.model_dump())


@router.get("/admin/rest-apis")
def list_rest_apis() -> Response:
    from chatbridge.repository import outgoing

    return answer(200, {"rest_apis": [rest_api.model_dump() for rest_api in outgoing.list_rest_apis()]})


@router.get("/admin/rest-apis/<rest_api_id>")
def get_rest_api(rest_api_id: str) -> Response:
    from chatbridge.repository import outgoing

    rest_api = outgoing.get_rest_api(rest_api_id)
    return answer(200, rest_api.model_dump()) if rest_api else not_found("REST API", rest_api_id)


@router.delete("/admin/rest-apis/<rest_api_id>")
def delete_rest_api(rest_api_id: str) -> Response:
    from chatbridge.repository import outgoing

    users = [webhook.id for webhook in outgoing.list_webhooks() if webhook.rest_api_id == rest_api_id]
    if users:
        return answer(409, {"status": "in_use", "reason": f"outgoing webhook(s) {users} still use REST API "
                                                           f"{rest_api_id!r}: delete or change them first"})
    if not outgoing.delete_rest_api(rest_api_id):
        return not_found("REST API", rest_api_id)
    return answer(200, {"status": "deleted", "id": rest_api_id})


# -- deliveries -----------------------------------------------------------------------------------

@router.get("/admin/deliveries")
def list_deliveries() -> Response:
    from chatbridge.repository import deliveries

    chat_id = router.current_event.get_query_string_value("chat_id")
    if chat_id is not None and as_id(chat_id) is None:
        raise BadRequest(f"chat_id must be a chat id (a number), not {chat_id[:40]!r}")
    found = deliveries.list_for_chat(int(chat_id)) if chat_id is not None else deliveries.list_recent()
    return answer(200, {"deliveries": [delivery.model_dump() for delivery in found]})


@router.post("/admin/deliveries/redrive")
def redrive_deliveries() -> Response:
    from chatbridge.repository import queue

    started = time.monotonic()
    moved = queue.redrive(limit=REDRIVE_LIMIT, seconds=REDRIVE_SECONDS)
    cut_short = moved >= REDRIVE_LIMIT or time.monotonic() - started >= REDRIVE_SECONDS
    return answer(200, {"redriven": moved, "remaining": cut_short and queue.dead_letters_waiting() > 0})


@router.post("/admin/deliveries/redrive-stream")
def redrive_stream_failures() -> Response:
    """The chat stream batches the evaluator gave up on, read from the stream again and re-evaluated."""
    from chatbridge.reply.stream_redrive import redrive_stream_failures
    from chatbridge.repository.reply_storage import reply_storage
    from chatbridge.repository.stream_failures import StreamFailureError

    try:
        return answer(200, redrive_stream_failures(reply_storage()).answer())
    except StreamFailureError as error:  # the deployment lacks the queue: fixing it, not the request, helps
        return answer(503, {"status": "unavailable", "reason": str(error)})


# -- operator replies -----------------------------------------------------------------------------

@router.post("/admin/chats/<chat_id>/messages")
def post_operator_message(chat_id: str) -> Response:
    from chatbridge.admin import file_routes
    from chatbridge.media.uploads import UploadRefused
    from chatbridge.repository import media, reply_storage

    if as_id(chat_id) is None:
        return not_found("chat", chat_id)
    try:
        message = OperatorMessage.model_validate(json_body(router.current_event))
    except ValidationError as error:
        return invalid(error)
    if message.file is None:
        stored = reply_storage.add_operator_message(int(chat_id), message.msg, message.user_id)
    else:  # the message carries the link as LHC's [file=URL] markup, and the file itself for file webhooks
        chat = reply_storage.get_chat(int(chat_id))
        if chat is None:
            return not_found("chat", chat_id)
        if media.bucket_name() is None:
            return file_routes.no_bucket()
        try:
            file = file_routes.attached_file(chat, message.file)
        except UploadRefused as error:
            return file_routes.refused(error)
        text = "\n".join(part for part in (message.msg.strip(), f"[file={file['url']}]") if part)
        stored = reply_storage.add_operator_message(int(chat_id), text, message.user_id, file=file)
    if stored is None:
        return not_found("chat", chat_id)
    return answer(201, {"status": "ok", "message": stored})


@router.post("/admin/chats/<chat_id>/messages/<message_id>/retry")
def retry_message(chat_id: str, message_id: str) -> Response:
    """Send a message's failed reply job(s) again, for real: 202 with the message back at ``queued``; the
    dispatcher then sends and records ``sent`` (or ``failed`` again, with the new reason). 404 for no such
    chat or message, 409 when nothing of it is failed (already sent, still queued, or retried just now)."""
    from chatbridge.reply.pipeline import retry_jobs
    from chatbridge.repository import chats, deliveries, queue, reply_storage

    chat_number, message_number = as_id(chat_id), as_id(message_id)
    chat = reply_storage.get_chat(chat_number) if chat_number is not None else None
    if chat is None:
        return not_found("chat", chat_id)
    message = chats.get_message(chat_number, message_number) if message_number is not None else None
    if message is None:
        return not_found("message", message_id)
    jobs = retry_jobs(chat, message, deliveries.list_for_chat(chat_number))
    requeued = [job for job in jobs if deliveries.requeue_failed(job)]  # the gate: each failure once
    if not requeued:
        return answer(409, {"status": "nothing_to_retry", "reason": (
            f"message {message_number} has no failed delivery to retry (it is {message.get('delivery') or 'not a reply'}"
            "; a retry already in progress counts as not failed)")})
    updated = reply_storage.requeue_message(chat_number, message_number)
    try:
        queue.enqueue(requeued)
    except Exception:
        for job in requeued:  # nothing was queued: show failed again rather than a clock that never ends
            deliveries.mark_failed_again(job, "retry could not be queued; try again")
        reply_storage.set_message_delivery(chat_number, message_number, "failed")
        raise
    return answer(202, {"status": "queued", "jobs": [job.job_id for job in requeued], "message": updated})
