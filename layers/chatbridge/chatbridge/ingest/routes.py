"""The public routes a third party calls, on the ``ingest.http`` resolver the ingest function answers with.

``POST /webhooks/incoming/{identifier}`` stores chats and messages exactly once; ``GET`` answers Meta's
subscribe handshake. Answers are truthful so a provider knows whether to retry: 200 stored (or
``ignored`` when the spec's general conditions refuse the payload: retrying would not help), 404 unknown
or disabled identifier (one body for both), 400/413/415 unreadable body, 401 failed verification
(nothing written). A failure answers 503 only when a retry can fix it (throttling, timeouts, service errors:
``chatbridge.repository.failures``; writes are idempotent), anything else 422: the same payload would fail again.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chatbridge.errors import NotBase64, NotUtf8, PayloadError, VerificationFailed
from chatbridge.ingest.budget import BudgetSpent, Deadline, request_deadline
from chatbridge.ingest.http import Answer, Request, Resolver, json_answer
from chatbridge.ingest.payload import decode_body
from chatbridge.ingest.store import IngestOutcome, ingest
from chatbridge.media.files import public_base_url
from chatbridge.repository import request_log, specs
from chatbridge.repository.failures import retry_can_fix
from chatbridge.settings import settings
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.redaction import verification_names, verification_secrets
from chatbridge.spec.signatures import answer_handshake, verify_request

if TYPE_CHECKING:
    from chatbridge.spec.model import IncomingWebhookSpec
    from chatbridge.spec.stored import StoredSpec

    Spec = StoredSpec | IncomingWebhookSpec  # what specs.cached_spec gives

logger = Logger()
metrics = Metrics()  # Powertools metrics share one set per namespace: the function's log_metrics flushes it
resolver = Resolver()

NOT_FOUND = {"status": "not_found", "reason": "no enabled incoming webhook with this identifier"}
UNAVAILABLE = {"status": "unavailable", "reason": "storage is unavailable; retry later (retries are safe)"}
UNPROCESSABLE = {"status": "error", "code": "unprocessable",
                 "reason": "this request cannot be stored (the error is logged); retrying it would fail the same way"}
GET_IS_FOR_HANDSHAKES = {"status": "error", "reason": "send messages with POST; GET only answers the "
                                                      "subscribe handshake (hub.mode=subscribe)"}


@resolver.route("POST", "/webhooks/incoming/<identifier>")
def post_webhook(request: Request, identifier: str) -> Answer:
    metrics.add_metric(name="WebhookRequests", unit=MetricUnit.Count, value=1)
    deadline = request_deadline(request.context)
    spec = _enabled_spec(identifier)
    if spec is None:
        return json_answer(404, NOT_FOUND)
    try:
        status, body = _receive(request, spec, deadline)
    except Exception as error:
        _log_request(request, spec, *failure_answer(error))
        raise
    _log_request(request, spec, status, body)
    return json_answer(status, body)


@resolver.route("GET", "/webhooks/incoming/<identifier>")
def get_webhook(request: Request, identifier: str) -> Answer:
    """Meta's subscribe handshake; other GETs are told to POST."""
    metrics.add_metric(name="WebhookRequests", unit=MetricUnit.Count, value=1)
    spec = _enabled_spec(identifier)
    if spec is None:
        return json_answer(404, NOT_FOUND)
    query = request.query
    if "hub.mode" not in query:
        _log_request(request, spec, 405, GET_IS_FOR_HANDSHAKES)
        return json_answer(405, GET_IS_FOR_HANDSHAKES)
    try:
        challenge = answer_handshake(spec.verification, query)
    except VerificationFailed as error:
        refused = {"status": "unauthorized", "reason": str(error)}
        _log_request(request, spec, 401, refused)
        return json_answer(401, refused)
    _log_request(request, spec, 200, {"status": "handshake"})
    return Answer(200, challenge, content_type="text/plain")


def failure_answer(error: BaseException) -> tuple[int, dict[str, Any]]:
    """What a failed request answers: 503 (retry) only for what a retry can fix, else 422 with a reason, so a
    payload DynamoDB refuses is not retried forever (the function's handler logs the error itself)."""
    if isinstance(error, BudgetSpent):  # its reason names no internals: what ran out, and that retrying is safe
        return 503, {"status": "unavailable", "reason": str(error)}
    return (503, UNAVAILABLE) if retry_can_fix(error) else (422, UNPROCESSABLE)


def _enabled_spec(identifier: str) -> Spec | None:
    spec = specs.cached_spec(identifier)
    return spec if spec is not None and spec.enabled else None


def _receive(request: Request, spec: Spec, deadline: Deadline) -> tuple[int, dict[str, Any]]:
    headers, query = request.headers, request.query
    try:
        raw = _raw_bytes(request)
        verify_request(spec.verification, headers=headers, query=query, raw_body=raw)
        payload = decode_body(raw, content_type=headers.get("content-type"))
    except VerificationFailed as error:
        metrics.add_metric(name="VerificationFailures", unit=MetricUnit.Count, value=1)
        return 401, {"status": "unauthorized", "reason": str(error)}
    except PayloadError as error:
        return error.status, {"status": "error", "code": error.code, "reason": str(error)}
    result = map_payload(spec, payload)
    if not result.accepted:
        return 200, {"status": "ignored", "reason": result.reason}
    outcome = ingest(spec, result, payload, media_base_url=_media_base_url(request), deadline=deadline)
    _report(spec, outcome)
    return 200, outcome.answer(with_ids=query.get("output") == "json")


def _report(spec: Spec, outcome: IngestOutcome) -> None:
    if outcome.file_failures:
        logger.warning("stored without their files", extra={"identifier": spec.identifier,
                                                             "failures": outcome.file_failures})
    for name, value in (("FilesStored", len(outcome.files)), ("FileFetchFailures", len(outcome.file_failures)),
                        ("ChatsCreated", len(outcome.created_chats)), ("MessagesCreated", len(outcome.messages)),
                        ("DuplicateMessages", outcome.duplicates), ("MessagesEdited", outcome.edits),
                        ("ReceiptsApplied", outcome.receipts.get("applied", 0)),
                        ("ReceiptsUnmatched", outcome.receipts.get("unmatched", 0))):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("stored", extra={"identifier": spec.identifier, "chats": outcome.chats,
                                 "messages": len(outcome.messages), "duplicates": outcome.duplicates,
                                 "skipped": outcome.skipped, "skipped_messages": outcome.skipped_messages[:20],
                                 **({"receipts": outcome.receipts} if outcome.receipts else {}),
                                 **({"edits": outcome.edits} if outcome.edits else {})})


def _raw_bytes(request: Request) -> bytes:
    """The body exactly as sent (what signatures cover); API Gateway base64-encodes binary media types."""
    body = request.body
    if not request.is_base64_encoded:
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            raise NotUtf8("the body contains characters that are not valid UTF-8 (lone surrogates)") from None
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise NotBase64("the body is marked base64-encoded but is not valid base64") from None


def _media_base_url(request: Request) -> str:
    """Where links to stored files point: MEDIA_BASE_URL (a custom domain), the local stack, or this API."""
    context = request.request_context
    return public_base_url(configured=settings().media_base_url,
                           local_url=settings().local_url,
                           domain_name=context.get("domainName"), stage=context.get("stage"))


def _log_request(request: Request, spec: Spec, status: int, outcome: dict[str, Any]) -> None:
    """LHC's "log request": kept only when the spec asks, and never allowed to fail the delivery it describes."""
    if not spec.log_requests:
        return
    try:
        request_log.record_request(spec.identifier, method=request.method, headers=request.headers,
                                   query=request.query, body=request.body, status=status, outcome=outcome,
                                   sensitive_names=verification_names(spec.verification),
                                   secret_values=verification_secrets(spec.verification))
    except Exception:
        logger.exception("could not write the request log", extra={"identifier": spec.identifier})
