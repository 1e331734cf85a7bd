"""Media links: ``GET /media/{spec_id}/{name}`` -> 302 to a fresh presigned URL of the stored file.

Message bodies carry this stable link rather than a presigned URL, which would expire within minutes of
the message. The bucket stays private; the key is unguessable (see ``chatbridge.media.model``), so the link
needs no other secret, as a link in a chat transcript cannot carry one. 404 for any other key, 503 when
S3 cannot answer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from chatbridge.answers import answer
from chatbridge.media.files import KEY_PATTERN, KEY_PREFIX
from chatbridge.repository import media

logger = Logger()
app = APIGatewayRestResolver()

NOT_FOUND = {"status": "not_found", "reason": "no such file"}
UNAVAILABLE = {"status": "unavailable", "reason": "file storage is unavailable; retry later"}


@app.get("/media/<spec_id>/<name>")
def get_file(spec_id: str, name: str) -> Response:
    key = f"{KEY_PREFIX}{spec_id}/{name}"
    if not KEY_PATTERN.match(key) or media.bucket_name() is None or not media.file_exists(key):
        return answer(404, NOT_FOUND)
    return Response(status_code=302, content_type="text/plain", body="",
                    headers={"Location": media.presigned_url(key), "Cache-Control": "private, max-age=60"})


@app.not_found
def _no_route(_error: Exception) -> Response:
    return answer(404, NOT_FOUND)


@app.exception_handler(Exception)
def _unavailable(error: Exception) -> Response:
    logger.exception("media link failed; answered 503", extra={"error_type": type(error).__name__})
    return answer(503, UNAVAILABLE)


@logger.inject_lambda_context
def lambda_handler(event: dict, context: Any) -> dict:
    return app.resolve(event, context)
