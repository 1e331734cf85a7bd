"""Fetching a media file over HTTP, inside the same fences as the dispatcher's outbound calls.

The URL usually comes from a third party's payload, which anyone can forge, so every hop is checked:
the host must be in the fetch's ``hosts`` (when it lists any), every address it resolves to must pass the
URL guard (``CHATBRIDGE_OUTBOUND_ALLOW`` lets a private host through), and the connection goes to the
address that was checked, so a DNS answer that changes between check and connect (rebinding) cannot
reach an internal address. Redirects are followed (Twilio's media URLs redirect to a CDN) but each one is
checked the same way, at most ``MAX_REDIRECTS`` of them, and headers are dropped when the host changes
(they may carry an API key). The body is read in chunks and abandoned past ``max_bytes``; one deadline
covers the whole fetch, redirects and a slow trickle included.

A fetch with a ``resolve`` step makes two requests (WhatsApp Cloud: the media id's URL, then the file;
Telegram: ``getFile``, then the file path). The first is fenced the same way, its JSON answer is capped at
``RESOLVE_MAX_BYTES``, and the URL it yields is checked against ``hosts`` like any other: it is chosen by the
provider, and headers go only where ``hosts`` says. Errors never carry a secret (``FetchRequest.mask``).

Every URL, the payload's, a resolve step's answer or a redirect's ``Location``, is parsed by the URL guard
(``split_url``, ``join_url``), which refuses one that cannot be parsed or has a bad port as
``OutboundUrlRefused``; ``fetch`` turns that into a failed fetch like any other refusal. A ``ValueError``
escaping here would answer the webhook 503, and the provider would retry a payload that fails every time.
"""

from __future__ import annotations

import http.client
import json
import socket
import time

from chatbridge.errors import OutboundUrlRefused
from chatbridge.media.errors import MediaFetchFailed
from chatbridge.media.files import FetchedFile, decode_response
from chatbridge.media.model import FetchRequest, HttpRequest
from chatbridge.media.urls import host_allowed
from chatbridge.outbound.url_guard import check_url, join_url, pinned_connection, split_url

MAX_REDIRECTS = 3
CHUNK = 65_536
MIN_TIMEOUT = 0.5  # below this a fetch is not worth starting
_REDIRECTS = (301, 302, 303, 307, 308)
_ENCODED_OVERHEAD = 65_536  # JSON around a base64 file
USER_AGENT = "chatbridge-media/1"
RESOLVE_MAX_BYTES = 1024 * 1024  # a JSON answer naming a URL is a few hundred bytes


def fetch(request: FetchRequest, *, allow: str | None = None, budget: float | None = None) -> FetchedFile:
    """Fetch and decode one file, or raise ``MediaFetchFailed`` saying why (never anything else); the reason
    never holds the fetch's secrets.

    ``budget`` caps the time further (what is left of the webhook request's own time); ``allow`` defaults
    to ``CHATBRIDGE_OUTBOUND_ALLOW``. The resolve step, when there is one, shares the time.
    """
    timeout = request.timeout if budget is None else min(request.timeout, budget)
    if timeout < MIN_TIMEOUT:
        raise MediaFetchFailed("no time was left for it in this webhook request (earlier files used it up)")
    deadline = time.monotonic() + timeout
    try:
        resolved = _resolve(request, deadline=deadline, timeout=timeout, allow=allow) if request.resolve else None
        limit = request.max_bytes if request.response == "raw" else request.max_bytes * 4 // 3 + _ENCODED_OVERHEAD
        url = request.request.send_url(request.secrets, resolved)
        content, content_type = _call(request.request, url, request.hosts, limit=limit, deadline=deadline,
                                      timeout=timeout, allow=allow)
        return decode_response(request, content, content_type)
    except MediaFetchFailed as error:
        raise MediaFetchFailed(request.mask(str(error))) from None
    except OutboundUrlRefused as error:  # a URL that can never be called: the payload's or a provider's answer
        raise MediaFetchFailed(request.mask(f"refused: {error}")) from None


def _resolve(request: FetchRequest, *, deadline: float, timeout: float, allow: str | None) -> str:
    """The resolve step's answer: the text at its location in a JSON response capped at ``RESOLVE_MAX_BYTES``."""
    step = request.resolve
    assert step is not None and request.resolve_location is not None
    url = step.send_url(request.secrets)
    content, _ = _call(step, url, request.hosts, limit=RESOLVE_MAX_BYTES, deadline=deadline, timeout=timeout,
                       allow=allow, what="resolve step: ")
    where = request.resolve_location.source
    excerpt = " ".join(content[:200].decode("utf-8", "replace").split())[:120]
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise MediaFetchFailed(f"resolve step: the response is not JSON (it starts {excerpt[:80]!r})") from None
    value = request.resolve_location.first(document, document)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise MediaFetchFailed(f"resolve step: the response has no text at {where!r} "
                               f"(response starts {excerpt!r})")
    return value


def _call(step: HttpRequest, url: str, hosts: tuple[str, ...], *, limit: int, deadline: float, timeout: float,
          allow: str | None, what: str = "") -> tuple[bytes, str]:
    """One request, redirects followed: (body, Content-Type) of a 2xx answer, else ``MediaFetchFailed``
    (``OutboundUrlRefused`` for a URL the guard cannot parse)."""
    host = split_url(url).hostname
    if not host_allowed(url, hosts):
        raise MediaFetchFailed(f"{what}host {host or url[:80]!r} is not in fetch.hosts ({', '.join(hosts)})")
    method, headers, body = step.method, dict(step.headers), step.body
    headers.setdefault("User-Agent", USER_AGENT)
    for _ in range(MAX_REDIRECTS + 1):
        status, location, content_type, content = _exchange(method, url, headers, body, limit=limit,
                                                            deadline=deadline, timeout=timeout, allow=allow)
        if status in _REDIRECTS and location:
            next_url = join_url(url, location)
            if split_url(next_url).hostname != split_url(url).hostname:
                headers = {"User-Agent": headers.get("User-Agent", USER_AGENT)}
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            url = next_url
            continue
        if not 200 <= status < 300:
            raise MediaFetchFailed(f"{what}HTTP {status} from {split_url(url).hostname}")
        return content, content_type
    raise MediaFetchFailed(f"{what}more than {MAX_REDIRECTS} redirects")


def _exchange(method: str, url: str, headers: dict[str, str], body: bytes | None, *, limit: int, deadline: float,
              timeout: float, allow: str | None) -> tuple[int, str, str, bytes]:
    """One request: (status, Location, Content-Type, body); the body is not read for a redirect."""
    try:
        addresses = check_url(url, allow=allow)
    except OutboundUrlRefused as exc:
        raise MediaFetchFailed(f"refused: {exc}") from None
    except OSError as exc:
        raise MediaFetchFailed(f"network error: {exc}") from None
    parts = split_url(url)  # checked by check_url: its port is usable
    port = parts.port
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise MediaFetchFailed(f"timed out after {timeout:g} s")
    connection = pinned_connection(parts.scheme, parts.hostname or "", port, addresses, timeout=remaining)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, target, body=body, headers=headers)
        sock = connection.sock  # kept: getresponse() drops it from the connection when the server closes
        response = connection.getresponse()
        location = response.getheader("Location") or ""
        content_type = response.getheader("Content-Type") or ""
        if response.status in _REDIRECTS and location:
            return response.status, location, content_type, b""
        if not 200 <= response.status < 300:
            return response.status, location, content_type, b""
        declared = response.getheader("Content-Length")
        if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise MediaFetchFailed(f"the response is larger than {limit} bytes (fetch.max_bytes); "
                                   f"the server announced {declared}")
        return response.status, location, content_type, _read_capped(sock, response, limit, deadline, timeout)
    except MediaFetchFailed:
        raise
    except TimeoutError:
        raise MediaFetchFailed(f"timed out after {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise MediaFetchFailed(f"network error: {exc}") from None
    except ValueError as exc:  # a header or URL http.client cannot send
        raise MediaFetchFailed(f"the request cannot be sent: {exc}") from None
    finally:
        connection.close()


def _read_capped(sock: socket.socket | None, response: http.client.HTTPResponse, limit: int, deadline: float,
                 timeout: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MediaFetchFailed(f"timed out after {timeout:g} s")
        if sock is not None:
            sock.settimeout(remaining)
        chunk = response.read1(CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise MediaFetchFailed(f"the response is larger than {limit} bytes (fetch.max_bytes)")
        chunks.append(chunk)
