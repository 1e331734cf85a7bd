"""What every admin route shares: the answers (400, 404, 422 naming each field), the strict JSON body, ids
from URLs, and the error handlers. Each route module's router comes from ``new_router``, so each carries the
same handler functions (two routers that each defined their own would silently replace one another's when
the function includes both) and works alone where a test includes just one.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import ValidationError

from chatbridge.answers import answer
from chatbridge.errors import ChatbridgeError, PayloadError
from chatbridge.ingest.payload import decode_body

MAX_DEFINITION_BYTES = 300_000  # a stored definition is one DynamoDB item (400 KB at most)


class BadRequest(ChatbridgeError):
    """The admin request itself is malformed (400), as opposed to an invalid definition (422)."""


def _bad_request(error: BadRequest) -> Response:
    return answer(400, {"status": "error", "reason": str(error)})


def _unreadable_body(error: PayloadError) -> Response:
    return answer(error.status, {"status": "error", "code": error.code, "reason": str(error)})


def new_router() -> Router:
    """A Powertools router for admin routes, with the shared error answers registered."""
    router = Router()
    router.exception_handler(BadRequest)(_bad_request)
    router.exception_handler(PayloadError)(_unreadable_body)
    return router


def not_found(kind: str, key: Any) -> Response:
    return answer(404, {"status": "not_found", "reason": f"no {kind} {key!r}"})


def invalid(error: ValidationError) -> Response:
    errors = [{"field": ".".join(str(part) for part in entry["loc"]) or "body",
               "reason": str(entry["msg"]).removeprefix("Value error, ")} for entry in error.errors()]
    summary = "; ".join(f"{entry['field']}: {entry['reason']}" for entry in errors)
    return answer(422, {"status": "invalid", "reason": summary, "errors": errors})


def json_body(event: BaseProxyEvent) -> Any:
    """The request's JSON, read as strictly as a webhook body (size, UTF-8, depth, NaN, lone surrogates):
    a ``PayloadError`` (400/413) otherwise. Whatever passes can be stored; the content type is not consulted."""
    return decode_body(event.body, content_type=None, is_base64=event.is_base64_encoded,
                       max_bytes=MAX_DEFINITION_BYTES)


def json_object(event: BaseProxyEvent) -> dict[str, Any]:
    body = json_body(event)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def as_id(text: str | None) -> int | None:
    """An id or count from a URL: ASCII digits that fit a DynamoDB number (``'²'.isdigit()`` is True, and
    ``int('²')`` raises), else None."""
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 19 else None


