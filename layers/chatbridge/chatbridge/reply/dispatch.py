"""Dispatch jobs, the retry policy, and the outbound HTTP call.

A job is one (chat event, outgoing webhook) pair. Its id is derived from (chat id, message id or event,
webhook id), so a stream record replayed after a partial batch failure produces the same job and the
dispatcher, which records deliveries under that id, sends it once.

Retry policy: network errors, timeouts, 429 and 5xx are retried with exponential backoff, or after the
``Retry-After`` the answer carries (seconds or an HTTP date, capped like the backoff); any other status outside the REST API's success codes, and refused URLs, fail
for good. A URL the guard cannot parse (a port out of range, an unbalanced ``[``) is a refused URL too: it
fails the same way every time, so retrying it would only delay the dead-letter queue. The backoff is applied by the dispatcher through SQS message visibility, and the queue's
redrive policy moves a job to the dead-letter queue after ``maxReceiveCount`` receives.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from chatbridge.errors import ChatbridgeError, OutboundUrlRefused

if TYPE_CHECKING:  # the evaluator imports this module for DispatchJob: rendering and URLs are the dispatcher's
    from chatbridge.reply.rest_api import RenderedRequest

EXCERPT_CHARS = 2000
RESPONSE_BYTES = 65_536  # of a send call's answer, read for its message id (response_message_id)
USER_AGENT = "chatbridge/1"
MAX_BACKOFF_SECONDS = 900
BASE_BACKOFF_SECONDS = 5


def job_id_for(chat_id: int, message_id: int | None, webhook_id: str, event: str) -> str:
    """Deterministic: the same record and rule always give the same job (idempotency key)."""
    subject = f"m{message_id}" if message_id is not None else event
    return hashlib.sha256(f"{chat_id}|{subject}|{webhook_id}".encode()).hexdigest()[:32]


class DispatchJob(BaseModel):
    """What travels on the dispatch queue: everything needed to render, without reading the chat again."""

    job_id: str
    event: str
    chat_id: int
    message_id: int | None = None
    webhook_id: str
    rest_api_id: str
    args: dict[str, Any]

    @classmethod
    def create(cls, *, event: str, chat_id: int, message_id: int | None, webhook_id: str, rest_api_id: str,
               args: dict[str, Any]) -> DispatchJob:
        return cls(job_id=job_id_for(chat_id, message_id, webhook_id, event), event=event, chat_id=chat_id,
                   message_id=message_id, webhook_id=webhook_id, rest_api_id=rest_api_id, args=args)


DeliveryStatus = Literal["queued", "retrying", "sent", "failed"]


class Delivery(BaseModel):
    """The record an operator reads to see whether a reply reached the third party."""

    id: str
    chat_id: int
    message_id: int | None = None
    webhook_id: str
    rest_api_id: str
    event: str
    status: DeliveryStatus = "queued"
    attempts: int = 0
    status_code: int | None = None
    response_excerpt: str = ""
    error: str | None = None
    request: dict[str, Any] = Field(default_factory=dict)
    duration_ms: int | None = None
    created_at: int = Field(default_factory=lambda: int(time.time()))
    updated_at: int = Field(default_factory=lambda: int(time.time()))


class HttpResult(BaseModel):
    """One attempt: a status (None when the network failed) and what came back."""

    status: int | None = None
    retry_after: str | None = None
    excerpt: str = ""
    error: str | None = None
    refused: bool = False
    duration_ms: int = 0
    response: str = Field("", exclude=True, repr=False)  # the answer's text (up to RESPONSE_BYTES): never stored


class Verdict(BaseModel):
    outcome: Literal["sent", "retry", "failed"]
    delay_seconds: int = 0
    reason: str = ""


def backoff_seconds(attempt: int) -> int:
    """5 s, 10 s, 20 s, ... capped at 15 minutes (attempt counts from 1)."""
    return min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** max(0, attempt - 1))


def retry_after_seconds(value: str | None, now: float | None = None) -> int | None:
    """``Retry-After`` as seconds (delta or HTTP date), capped; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # '²'.isdigit() is True: a header must not crash the dispatcher
        return min(MAX_BACKOFF_SECONDS, int(value))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    delta = moment.timestamp() - (time.time() if now is None else now)
    return min(MAX_BACKOFF_SECONDS, max(0, int(delta + 0.999)))


def judge(result: HttpResult, *, is_success: Any, attempt: int) -> Verdict:
    """Sent, retry later (with a delay), or failed for good."""
    if result.refused:
        return Verdict(outcome="failed", reason=result.error or "refused")
    if result.status is None:
        return Verdict(outcome="retry", delay_seconds=backoff_seconds(attempt), reason=result.error or "network error")
    if is_success(result.status):
        return Verdict(outcome="sent", reason=f"HTTP {result.status}")
    if result.status == 429 or 500 <= result.status <= 599:
        delay = retry_after_seconds(result.retry_after)  # a 503 for maintenance may say when, too
        return Verdict(outcome="retry", delay_seconds=backoff_seconds(attempt) if delay is None else delay,
                       reason="HTTP 429 (rate limited)" if result.status == 429 else f"HTTP {result.status}")
    return Verdict(outcome="failed", reason=f"HTTP {result.status} (not retried: the request itself was refused)")


def _excerpt(raw: bytes) -> str:
    return raw[:EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def send(request: RenderedRequest, *, allow: str | None = None) -> HttpResult:
    """Make one HTTP call. Never raises: every outcome is an ``HttpResult`` the policy judges, with any
    secret of the URL masked in its error and excerpt (they are stored and logged)."""
    result = _send(request, allow=allow)
    if not request.url_secrets:
        return result
    return result.model_copy(update={"error": request.shown(result.error) if result.error else result.error,
                                     "excerpt": request.shown(result.excerpt)})


def _send(request: RenderedRequest, *, allow: str | None) -> HttpResult:
    from chatbridge.outbound.url_guard import check_url, pinned_connection, split_url

    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    if request.refusal:
        return HttpResult(refused=True, error=request.refusal)
    try:
        addresses = check_url(request.url, allow=allow)
    except OutboundUrlRefused as exc:
        return HttpResult(refused=True, error=str(exc))
    except OSError as exc:
        return HttpResult(error=str(exc), duration_ms=elapsed())
    data = request.body.encode("utf-8") if request.body is not None else None
    parts = split_url(request.url)  # check_url parsed it already: this cannot raise
    try:
        # to the address the guard checked (no second DNS answer), and never following a redirect: it could
        # point inside the network, past the guard, so a 3xx is reported like any other status
        connection = pinned_connection(parts.scheme, parts.hostname or "", parts.port, addresses,
                                       timeout=request.timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            headers = dict(request.headers)
            if not any(name.lower() == "user-agent" for name in headers):
                headers["User-Agent"] = USER_AGENT
            connection.request(request.method, target, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read(RESPONSE_BYTES)
            return HttpResult(status=response.status, retry_after=response.getheader("Retry-After"),
                              excerpt=_excerpt(raw), response=raw.decode("utf-8", errors="replace"),
                              duration_ms=elapsed())
        finally:
            connection.close()
    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as error:
        return HttpResult(error=f"network error: {error}", duration_ms=elapsed())
    except ValueError as error:  # e.g. a rendered URL or header http.client cannot send: retrying cannot help
        return HttpResult(refused=True, error=f"the request cannot be sent: {error}", duration_ms=elapsed())


def sent_message_id(location: str, result: HttpResult) -> str | None:
    """The provider's id of the message a send call created, at ``location`` in its JSON answer; None when the
    answer is no JSON or has nothing there (the reply is sent all the same: only receipts cannot find it)."""
    from chatbridge.ingest.payload import decode_body
    from chatbridge.lang.core import is_empty, value_text
    from chatbridge.lang.locations import compile_location

    compiled = compile_location(location)
    if compiled is None or not result.response.strip():
        return None
    try:
        answer = decode_body(result.response, content_type="application/json")
    except ChatbridgeError:
        return None
    value = compiled.first(answer, answer)
    if is_empty(value) or isinstance(value, (dict, list)):
        return None
    return value_text(value) or None


def redacted_request(request: RenderedRequest, secret_headers: set[str]) -> dict[str, Any]:
    """What a delivery record shows of a request: secret header values and URL secrets masked, body capped."""
    headers = {name: ("***" if name in secret_headers or name.lower() == "authorization" else value)
               for name, value in request.headers.items()}
    return {"method": request.method, "url": request.shown_url or request.url, "headers": headers,
            "body": (request.body or "")[:EXCERPT_CHARS]}
