"""The ingest function's HTTP edge: an API Gateway REST API event (payload 1.0) -> its route -> the proxy answer.

Two routes and a 404 do not need Powertools' event handler, whose package imports every resolver it has
(AppSync, Bedrock agents, ``asyncio``, every event data class): ~40 ms of a cold ingest function
(docs/benchmarks.md, cold start). ``Resolver`` keeps what the ingest relied on from ``APIGatewayRestResolver``:
a ``<name>`` in a rule takes Powertools' characters (RFC 3986's safe ones, those API Gateway decodes, word
characters: never a slash), trailing slashes are ignored, the path is matched as API Gateway gives it, the
method compared upper-cased; an event without a path or method raises to the caller (the function answers
it 400); whatever a route or the not-found answer raises goes to the error handler; the answer is
``{"statusCode", "body", "isBase64Encoded", "multiValueHeaders"}``. The request is passed to the route, not
kept on a shared object.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatbridge.answers import json_text

_NAME_CHARACTERS = r"-._~()'!*:@,;=+&$%<> \[\]{}|^\w"  # Powertools' _SAFE_URI, _UNSAFE_URI and \w


@dataclass(frozen=True, slots=True)
class Answer:
    """What a route answers: status, body text and its content type."""

    status: int
    body: str
    content_type: str = "application/json"


def json_answer(status: int, body: Any) -> Answer:
    """The one JSON encoding of every HTTP answer (``answers.json_text``)."""
    return Answer(status, json_text(body))


@dataclass(frozen=True, slots=True)
class Request:
    """One API Gateway request: the event's parts a route reads, and the Lambda context."""

    event: dict[str, Any]
    context: Any

    @property
    def method(self) -> str:
        return self.event["httpMethod"]

    @property
    def headers(self) -> dict[str, str]:
        """Header names lower-cased (a name sent twice in different case: the last one)."""
        return {str(k).lower(): str(v) for k, v in (self.event.get("headers") or {}).items()}

    @property
    def query(self) -> dict[str, str]:
        return dict(self.event.get("queryStringParameters") or {})

    @property
    def body(self) -> str:
        return self.event.get("body") or ""

    @property
    def is_base64_encoded(self) -> bool:
        return bool(self.event.get("isBase64Encoded"))

    @property
    def request_context(self) -> dict[str, Any]:
        return self.event.get("requestContext") or {}


class Resolver:
    """Routes by method and path rule (``/webhooks/incoming/<identifier>``); see the module docstring."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Answer]]] = []
        self._not_found: Callable[[], Answer] = lambda: json_answer(404, {"status": "not_found"})
        self._failed: Callable[[Exception], Answer] | None = None

    def route(self, method: str, rule: str) -> Callable[[Callable[..., Answer]], Callable[..., Answer]]:
        named = re.sub(r"<(\w+)>", lambda m: f"(?P<{m.group(1)}>[{_NAME_CHARACTERS}]+)", rule.rstrip("/"))
        pattern = re.compile(f"^{named}/*$")

        def register(func: Callable[..., Answer]) -> Callable[..., Answer]:
            self._routes.append((method.upper(), pattern, func))
            return func
        return register

    def not_found(self, func: Callable[[], Answer]) -> Callable[[], Answer]:
        self._not_found = func
        return func

    def on_error(self, func: Callable[[Exception], Answer]) -> Callable[[Exception], Answer]:
        self._failed = func
        return func

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        method, path = event["httpMethod"].upper(), event["path"]
        found = next(((func, match.groupdict()) for verb, pattern, func in self._routes
                      if verb == method and (match := pattern.match(path))), None)
        try:
            answer = found[0](Request(event, context), **found[1]) if found else self._not_found()
        except Exception as error:
            if self._failed is None:
                raise
            answer = self._failed(error)
        return {"statusCode": answer.status, "body": answer.body, "isBase64Encoded": False,
                "multiValueHeaders": {"Content-Type": [answer.content_type]}}
