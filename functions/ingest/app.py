"""Ingest: ``POST|GET /webhooks/incoming/{identifier}`` -> chats and messages, exactly once.

The routes live in the layer (``chatbridge.ingest.routes``, on the small resolver of ``chatbridge.ingest.http``:
Powertools' event handler costs a cold start more than these two routes need); this handler makes sure no
answer is ever a 500 or carries a traceback: what a retry can fix (throttling, timeouts, service errors) answers
503, so the provider retries (writes are idempotent); anything else answers 422, since the same request would
fail again (``chatbridge.repository.failures``). The details go to the log only.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chatbridge.answers import json_text
from chatbridge.ingest.http import Answer, json_answer
from chatbridge.ingest.routes import NOT_FOUND, UNAVAILABLE, failure_answer, resolver
from chatbridge.repository.failures import retry_can_fix

logger = Logger()
metrics = Metrics()


@resolver.not_found
def _no_route() -> Answer:
    """A path no route takes (a slash or a control character in the identifier): unknown, not a failure."""
    metrics.add_metric(name="WebhookRequests", unit=MetricUnit.Count, value=1)
    return json_answer(404, NOT_FOUND)


@resolver.on_error
def _failed(error: Exception) -> Answer:
    status, body = failure_answer(error)
    logger.exception(f"request failed; answered {status}", extra={"error_type": type(error).__name__})
    metrics.add_metric(name="IngestFailures", unit=MetricUnit.Count, value=1)
    if status == 503:  # a retry can fix it (storage, time budget, deployment): the Ingest503Alarm counts these
        metrics.add_metric(name="IngestUnavailable", unit=MetricUnit.Count, value=1)
    return json_answer(status, body)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    try:
        return resolver.resolve(event, context)
    except Exception as error:
        status, body = (503, UNAVAILABLE) if retry_can_fix(error) else \
            (400, {"status": "error", "code": "bad_event", "reason": "the event is not an API Gateway request"})
        logger.exception(f"unreadable event; answered {status}")
        return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json_text(body)}
