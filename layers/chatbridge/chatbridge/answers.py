"""The one JSON answer every HTTP handler gives: webhook routes, admin routes, the media link and the
functions' own error answers, so a client sees one encoding (UTF-8 text as is, compact, odd values as text)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Response


def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A Powertools ``Response`` for the routers that run on its resolver (admin, media link); the ingest
    function's own resolver answers ``ingest.http.json_answer``, with the same ``json_text``."""
    from aws_lambda_powertools.event_handler.api_gateway import Response

    return Response(status_code=status, content_type="application/json", headers=headers,
                    body=json_text(body))


def json_text(body: Any) -> str:
    """The same encoding for a handler that must build its event answer by hand (its resolver failed)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
