"""Ingest: ``POST|GET /webhooks/incoming/{identifier}`` -> chats and messages, exactly once.

The routes live in the layer (``chatbridge.webhook_routes``); this handler joins them and makes sure no
answer is ever a 500 or carries a traceback: storage trouble and anything unforeseen answer 503, so the
provider retries (writes are idempotent), and the details go to the log only.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from chatbridge import webhook_routes
from chatbridge.webhook_routes import NOT_FOUND, UNAVAILABLE, answer

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
app.include_router(webhook_routes.router)


@app.not_found
def _no_route(error: Exception) -> Response:
    """A path no route takes (a slash or a control character in the identifier): unknown, not a failure."""
    metrics.add_metric(name="WebhookRequests", unit=MetricUnit.Count, value=1)
    return answer(404, NOT_FOUND)


@app.exception_handler(Exception)
def _unavailable(error: Exception) -> Response:
    logger.exception("request failed; answered 503", extra={"error_type": type(error).__name__})
    metrics.add_metric(name="IngestFailures", unit=MetricUnit.Count, value=1)
    return answer(503, UNAVAILABLE)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    try:
        return app.resolve(event, context)
    except Exception:
        logger.exception("unreadable event; answered 503")
        return {"statusCode": 503, "headers": {"Content-Type": "application/json"}, "body": json.dumps(UNAVAILABLE)}
