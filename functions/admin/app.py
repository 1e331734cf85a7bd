"""Admin API (IAM-authorised on AWS): specs, chats, outgoing webhooks, REST APIs, deliveries, SSM secrets.

The routes live in the layer as Powertools routers (``chatbridge.admin``: ``spec_routes``, ``reply_routes``,
``secret_routes``, ``preset_routes``, ``file_routes``, each with the error answers of ``admin.http``); this handler only joins them and turns storage failures a retry can fix into 503 (``chatbridge.repository.failures``),
those it cannot (DynamoDB refusing the request) into 422, and bugs into a bare 500.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from botocore.exceptions import BotoCoreError, ClientError

from chatbridge.admin import file_routes, preset_routes, reply_routes, secret_routes, spec_routes
from chatbridge.answers import answer
from chatbridge.errors import StorageConflict
from chatbridge.repository.failures import retry_can_fix

logger = Logger()
app = APIGatewayRestResolver()
app.include_router(spec_routes.router)
app.include_router(reply_routes.router)
app.include_router(secret_routes.router)
app.include_router(preset_routes.router)
app.include_router(file_routes.router)


@app.exception_handler([ClientError, BotoCoreError, StorageConflict])
def _storage_unavailable(error: Exception) -> Response:
    if not retry_can_fix(error):
        logger.exception("storage refused the request; answered 422")
        return answer(422, {"status": "error", "code": "unprocessable",
                           "reason": "storage refuses this request (logged); retrying it would fail the same way"})
    logger.exception("storage failed; answered 503")
    return answer(503, {"status": "unavailable", "reason": "storage is unavailable; retry later"})


@app.not_found
def _no_route(error: Exception) -> Response:
    """A path or method no admin route takes is the caller's mistake (404), not a bug (500)."""
    return answer(404, {"status": "not_found", "reason": "no such admin route; see docs/http-api.md"})


@app.exception_handler(Exception)
def _internal(error: Exception) -> Response:
    logger.exception("admin request failed")
    return answer(500, {"status": "error", "reason": "internal error (logged)"})


@logger.inject_lambda_context
def lambda_handler(event: dict, context: Any) -> dict:
    return app.resolve(event, context)
