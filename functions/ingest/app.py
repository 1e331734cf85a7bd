"""Ingest: ``POST|GET /webhooks/incoming/{identifier}`` -> chats and messages, exactly once.

Answers truthfully so a provider knows whether to retry: 200 stored (or ``ignored`` when the spec's
general conditions refuse the payload: retrying would not help), 404 unknown or disabled identifier (one
body for both), 400/413/415 unreadable body, 401 failed verification (nothing written), 503 storage
trouble (retry: writes are idempotent). Never a 500, never a traceback in an answer.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from chatbridge.errors import NotBase64, NotUtf8, PayloadError
from chatbridge.ingest import ingest
from chatbridge.mapping import map_payload
from chatbridge.media_files import public_base_url
from chatbridge.payload import decode_body
from chatbridge.repository import request_log, specs
from chatbridge.spec import IncomingWebhookSpec
from chatbridge.verification import VerificationFailed, answer_handshake, verify_request

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()

NOT_FOUND = {"status": "not_found", "reason": "no enabled incoming webhook with this identifier"}
UNAVAILABLE = {"status": "unavailable", "reason": "storage is unavailable; retry later (retries are safe)"}


def _json(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type="application/json",
                    body=json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def _request_parts() -> tuple[dict[str, str], dict[str, str], str]:
    event = app.current_event
    headers = {str(k).lower(): str(v) for k, v in (event.headers or {}).items()}
    return headers, dict(event.query_string_parameters or {}), event.body or ""


def _raw_bytes(body: str) -> bytes:
    """The body exactly as sent (what signatures cover); API Gateway base64-encodes binary media types."""
    if not app.current_event.is_base64_encoded:
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            raise NotUtf8("the body contains characters that are not valid UTF-8 (lone surrogates)") from None
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise NotBase64("the body is marked base64-encoded but is not valid base64") from None


def _receive(spec: IncomingWebhookSpec, headers: dict[str, str], query: dict[str, str],
             body: str) -> tuple[int, dict[str, Any]]:
    try:
        raw = _raw_bytes(body)
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
    outcome = ingest(spec, result, payload, media_base_url=_media_base_url())
    if outcome.file_failures:
        logger.warning("stored without their files", extra={"identifier": spec.identifier,
                                                             "failures": outcome.file_failures})
    metrics.add_metric(name="FilesStored", unit=MetricUnit.Count, value=len(outcome.files))
    metrics.add_metric(name="FileFetchFailures", unit=MetricUnit.Count, value=len(outcome.file_failures))
    metrics.add_metric(name="ChatsCreated", unit=MetricUnit.Count, value=len(outcome.created_chats))
    metrics.add_metric(name="MessagesCreated", unit=MetricUnit.Count, value=len(outcome.messages))
    metrics.add_metric(name="DuplicateMessages", unit=MetricUnit.Count, value=outcome.duplicates)
    logger.info("stored", extra={"identifier": spec.identifier, "chats": outcome.chats,
                                 "messages": len(outcome.messages), "duplicates": outcome.duplicates,
                                 "skipped": outcome.skipped})
    return 200, outcome.answer(with_ids=query.get("output") == "json")


def _media_base_url() -> str:
    """Where links to stored files point: MEDIA_BASE_URL (a custom domain), the local stack, or this API."""
    context = app.current_event.raw_event.get("requestContext") or {}
    return public_base_url(configured=os.environ.get("MEDIA_BASE_URL"),
                           local_url=os.environ.get("CHATBRIDGE_LOCAL_URL"),
                           domain_name=context.get("domainName"), stage=context.get("stage"))


def _log_request(spec: IncomingWebhookSpec, method: str, headers: dict[str, str], query: dict[str, str],
                 text: str, status: int, body: dict[str, Any]) -> None:
    if not spec.log_requests:
        return
    try:
        request_log.record_request(spec.identifier, method=method, headers=headers, query=query,
                                   body=text, status=status, outcome=body)
    except Exception:  # the log is a debugging aid: it must never fail the delivery it describes
        logger.exception("could not write the request log", extra={"identifier": spec.identifier})


def _enabled_spec(identifier: str) -> IncomingWebhookSpec | None:
    spec = specs.cached_spec(identifier)
    return spec if spec is not None and spec.enabled else None


@app.post("/webhooks/incoming/<identifier>")
def post_webhook(identifier: str) -> Response:
    metrics.add_metric(name="WebhookRequests", unit=MetricUnit.Count, value=1)
    spec = _enabled_spec(identifier)
    if spec is None:
        return _json(404, NOT_FOUND)
    headers, query, text = _request_parts()
    try:
        status, body = _receive(spec, headers, query, text)
    except Exception:
        _log_request(spec, "POST", headers, query, text, 503, UNAVAILABLE)
        raise
    _log_request(spec, "POST", headers, query, text, status, body)
    return _json(status, body)


@app.get("/webhooks/incoming/<identifier>")
def get_webhook(identifier: str) -> Response:
    """Meta's subscribe handshake; other GETs are told to POST."""
    metrics.add_metric(name="WebhookRequests", unit=MetricUnit.Count, value=1)
    spec = _enabled_spec(identifier)
    if spec is None:
        return _json(404, NOT_FOUND)
    headers, query, text = _request_parts()
    if "hub.mode" not in query:
        status, body = 405, {"status": "error", "reason": "send messages with POST; GET only answers the "
                                                          "subscribe handshake (hub.mode=subscribe)"}
        _log_request(spec, "GET", headers, query, text, status, body)
        return _json(status, body)
    try:
        challenge = answer_handshake(spec.verification, query)
    except VerificationFailed as error:
        _log_request(spec, "GET", headers, query, text, 401, {"status": "unauthorized", "reason": str(error)})
        return _json(401, {"status": "unauthorized", "reason": str(error)})
    _log_request(spec, "GET", headers, query, text, 200, {"status": "handshake"})
    return Response(status_code=200, content_type="text/plain", body=challenge)


@app.not_found
def _no_route(error: Exception) -> Response:
    """A path no route takes (a slash or a control character in the identifier): unknown, not a failure."""
    return _json(404, NOT_FOUND)


@app.exception_handler(Exception)
def _unavailable(error: Exception) -> Response:
    """Storage errors and anything unforeseen: 503 so the provider retries; details only in the log."""
    logger.exception("request failed; answered 503", extra={"error_type": type(error).__name__})
    metrics.add_metric(name="IngestFailures", unit=MetricUnit.Count, value=1)
    return _json(503, UNAVAILABLE)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    try:
        return app.resolve(event, context)
    except Exception:
        logger.exception("unreadable event; answered 503")
        return {"statusCode": 503, "headers": {"Content-Type": "application/json"}, "body": json.dumps(UNAVAILABLE)}
