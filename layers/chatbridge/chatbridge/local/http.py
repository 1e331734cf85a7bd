"""The local API: template routes served over HTTP, plus the stack's own ``/_local/...`` endpoints.

``/_local/echo`` (any method, any sub-path) stands in for a third party: it records what it receives, and
``GET /_local/echo`` shows the records, so a reply's full round trip can be watched without an account
anywhere. ``GET /_local/health`` answers once the stack is ready. ``POST /_local/invoke/{LogicalId}``
invokes a function directly with the posted event, like ``sam local invoke``.

The edge holds what a day of real traffic throws at it: a listen backlog for bursts, one deadline per
request (a slow, short or trickled request gets 408 and frees its thread), a bounded number of connection
threads, a JSON answer for every refusal (never the stdlib's HTML page), 503 with ``Retry-After`` while
starting or stopping, and operator routes (``/admin``, ``/_local``) that refuse what a web page in the
operator's browser could send them (see ``docs/local-stack.md``, "The HTTP edge").
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chatbridge.answers import json_text
from chatbridge.errors import ChatbridgeError
from chatbridge.local.apigateway import MalformedResponse, ProxyResponse, Router, build_event, parse_response
from chatbridge.local.cross_site import CrossSiteGuard, is_operator_route
from chatbridge.local.runtime import FunctionError, FunctionTimeout
from chatbridge.local.store import StoreError
from chatbridge.spec.redaction import mask_text, mask_url

log = logging.getLogger("chatbridge.local")

ECHO_PATH = "/_local/echo"
INVOKE_PATH = "/_local/invoke/"
HEALTH_PATH = "/_local/health"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_REQUEST_LINE = 65536  # the stdlib's own limit (414 beyond)
# Connections the kernel holds while the accept loop catches up: a provider's burst of new connections
# waits here instead of being reset (the stdlib's 5 lost them). Linux caps it at net.core.somaxconn.
LISTEN_BACKLOG = 1024
# One deadline per request, from its first byte to its last (request line, headers, body), and how long an
# idle keep-alive connection is kept: API Gateway's own 29 s integration window, rounded up.
READ_TIMEOUT_SECONDS = 30.0
# Connection threads at most; one more connection waits in the backlog until a thread is free (each is
# free within READ_TIMEOUT_SECONDS of its last byte, however slow the client).
MAX_CONNECTIONS = 128
# How long a stop waits for requests already in flight: API Gateway's 29 s cap on an integration, plus one.
DRAIN_SECONDS = 30.0
# Retry-After of a 503: a start takes seconds (the CLI waits this long and asks again); a stop may be for good.
RETRY_AFTER_SECONDS = {"starting": 1, "stopping": 5, "store_failed": 5}


class EchoRecorder:
    """The last requests the built-in echo endpoint received."""

    def __init__(self, keep: int = 200) -> None:
        self._records: deque[dict[str, Any]] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def record(self, method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        text = body.decode("utf-8", errors="replace")
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = None
        entry = {"method": method, "path": path, "headers": headers, "body": text, "json": parsed,
                 "received_at": time.time()}
        with self._lock:
            self._records.append(entry)
        return entry

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class LocalApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], *, router: Router, invoke: Callable[[str, dict], Any],
                 stage: str, binary_media_types: tuple[str, ...] = (),
                 sensitive_names: Callable[[str], Iterable[str]] = lambda path: (),
                 read_timeout: float = READ_TIMEOUT_SECONDS, max_connections: int = MAX_CONNECTIONS) -> None:
        """``sensitive_names(path)``: query names to mask in this path's log line besides the usual ones
        (``chatbridge.spec.redaction``), e.g. the query secret a webhook spec's verification reads."""
        super().__init__(address, _Handler)
        self.sensitive_names = sensitive_names
        self.router = router
        self.invoke = invoke
        self.stage = stage
        self.binary_media_types = binary_media_types
        self.read_timeout = read_timeout
        self.echo = EchoRecorder()
        self.ready = threading.Event()
        self.stopping = False
        self._in_flight = 0
        self._in_flight_changed = threading.Condition()
        self._connection_slots = threading.BoundedSemaphore(max_connections)
        self.open_connections = 0  # connections with a thread of their own (at most max_connections)
        self._closing = threading.Event()
        self.guard = CrossSiteGuard(address[0], self.server_address[1])

    @property
    def url(self) -> str:
        """Where this machine reaches the server (a wildcard bind is reached on loopback)."""
        host, port = self.server_address[:2]
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    # -- connection threads: bounded --------------------------------------------------------------------
    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread per connection, at most ``max_connections``: past that the accept loop waits for a free
        one, and new connections wait in the listen backlog (they are not reset)."""
        while not self._connection_slots.acquire(timeout=0.2):
            if self._closing.is_set():
                self.shutdown_request(request)
                return
        self._count_connection(+1)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._count_connection(-1)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._count_connection(-1)

    def _count_connection(self, change: int) -> None:
        with self._in_flight_changed:
            self.open_connections += change
        if change < 0:
            self._connection_slots.release()

    def shutdown(self) -> None:
        self._closing.set()
        super().shutdown()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that resets or drops its connection is routine, not a traceback on the operator's terminal."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            log.debug("connection from %s ended: %s", client_address[0], error)
            return
        log.exception("the local API failed on a request from %s", client_address[0])

    # -- starting, serving, stopping ------------------------------------------------------------------
    @contextlib.contextmanager
    def admitted(self) -> Iterator[str | None]:
        """``None`` while a request may run (it counts as in flight until the block ends), else why not:
        ``"starting"`` or ``"stopping"``."""
        with self._in_flight_changed:
            refusal = "stopping" if self.stopping else None if self.ready.is_set() else "starting"
            if refusal is None:
                self._in_flight += 1
        try:
            yield refusal
        finally:
            if refusal is None:
                with self._in_flight_changed:
                    self._in_flight -= 1
                    self._in_flight_changed.notify_all()

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Stop taking requests (each new one is a 503 with ``Retry-After``) and wait for those in flight
        to finish while the functions still run, so none of them is cut into a 502. False if some were
        still running after ``timeout``."""
        with self._in_flight_changed:
            self.stopping = True
            if self._in_flight:
                log.info("stopping: new requests get 503; waiting for %d in flight", self._in_flight)
            finished = self._in_flight_changed.wait_for(lambda: self._in_flight == 0, timeout)
            if not finished:
                log.warning("stopping: %d requests still running after %.0f s are cut off", self._in_flight,
                            timeout)
            return finished


class _BodyTooLarge(ChatbridgeError):
    """The body is over API Gateway's 10 MB (413)."""


class _UnreadableBody(ChatbridgeError):
    """The body's framing is broken (a bad Content-Length, a bad chunk, a client that closed mid-body)."""


class _DeadlineReader:
    """What a request is read through: no read waits past the request's deadline, so a client that trickles
    a byte at a time (slowloris) is cut off as surely as one that sends nothing.

    Each call makes at most one ``recv`` per loop, with the socket's timeout set to the time left; the
    stdlib's header parser reads through ``readline`` here too.
    """

    def __init__(self, stream: io.BufferedReader, connection: socket.socket, deadline: float) -> None:
        self.stream = stream
        self.connection = connection
        self.deadline = deadline

    def _wait(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        self.connection.settimeout(left)

    def readline(self, limit: int = -1) -> bytes:
        line = bytearray()
        while limit < 0 or len(line) < limit:
            self._wait()
            available = self.stream.peek(1)
            if not available:
                break
            want = len(available) if limit < 0 else min(len(available), limit - len(line))
            end = available.find(b"\n", 0, want)
            line += self.stream.read(end + 1 if end >= 0 else want)
            if end >= 0:
                break
        return bytes(line)

    def close(self) -> None:
        self.stream.close()

    def read(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            self._wait()
            chunk = self.stream.read1(size - len(data))
            if not chunk:
                break
            data += chunk
        return bytes(data)


# The stdlib's own refusals (send_error), as the edge's JSON: status -> code.
_EDGE_CODES = {
    HTTPStatus.BAD_REQUEST: "bad_request",
    HTTPStatus.REQUEST_TIMEOUT: "request_timeout",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "too_large",
    HTTPStatus.REQUEST_URI_TOO_LONG: "uri_too_long",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: "headers_too_large",
    HTTPStatus.NOT_IMPLEMENTED: "method_not_implemented",
    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: "http_version_not_supported",
}


class _Handler(BaseHTTPRequestHandler):
    server: LocalApiServer
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # a refused request line still gets a status line (0.9 has none)
    server_version = "chatbridge-local"
    # Headers and body go out in separate writes; with Nagle on, a keep-alive client's delayed ACK holds
    # the body back about 40 ms per request.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self._stream = self.rfile

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        """Requests are logged once, with their outcome, by ``_handle`` and ``_refuse``."""

    def handle_one_request(self) -> None:
        """The stdlib's loop step with a deadline: an idle keep-alive connection is closed quietly after the
        read timeout; a request that started but is not whole by its deadline gets 408 and its thread back."""
        self.close_connection = True
        self.command, self.request_version, self.requestline = None, self.default_request_version, ""
        self._started = time.monotonic()
        self._answered = False
        try:
            self.connection.settimeout(self.server.read_timeout)
            if not self._stream.peek(1):
                return  # the client closed
        except OSError:  # TimeoutError included: nothing came
            return
        self._started = time.monotonic()
        self.rfile = _DeadlineReader(self._stream, self.connection, self._started + self.server.read_timeout)
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG,
                                f"the request line is longer than {MAX_REQUEST_LINE} bytes")
                return
            if not self.parse_request():
                return
            method = getattr(self, f"do_{self.command}", None)
            if method is None:
                self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"method {self.command!r} is not supported")
                return
            method()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True
            if not self._answered:
                self.connection.settimeout(self.server.read_timeout)
                self._refuse(HTTPStatus.REQUEST_TIMEOUT, "request_timeout",
                             f"the request was not complete within {self.server.read_timeout:g} s")

    def parse_request(self) -> bool:
        """The stdlib's parser, minus HTTP/0.9: its request has no headers, which the stdlib would wait for."""
        words = self.raw_requestline.split()
        if len(words) == 2:
            self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 requests are not supported: send HTTP/1.1")
            return False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Every refusal the stdlib makes (400, 414, 431, 501, 505) in the edge's JSON, not its HTML page."""
        status = HTTPStatus(code)
        self.close_connection = True
        self._refuse(status, _EDGE_CODES.get(status, "http_error"), message or status.phrase)

    def _refuse(self, status: int, code: str, reason: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        """The edge's own answer: ``{"message", "code"}``, API Gateway's shape for its gateway responses."""
        if self.request_version == "HTTP/0.9":
            self.request_version = self.default_request_version
        self._send(_json_response(status, {"message": reason, "code": code}, headers))
        target = mask_url(self.path) if self.command else mask_text(self.requestline[:200]) or "-"
        log.info("%s -> %d (%s: %s)", f"{self.command} {target}" if self.command else target, status, code, reason)

    def _handle(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True  # the unread body makes the connection unusable
            self._refuse(413, "too_large", "Request Too Long")
            return
        except _UnreadableBody as exc:
            self.close_connection = True
            self._refuse(400, "bad_request", f"unreadable request body: {exc}")
            return
        self.connection.settimeout(self.server.read_timeout)  # for writing the answer
        if path == HEALTH_PATH:
            self._health()
            return
        if is_operator_route(path):
            refusal = self.server.guard.refusal(self.command, path, self.headers, has_body=bool(body),
                                                own_url=self.server.url)
            if refusal is not None:
                self._refuse(refusal.status, refusal.code, refusal.reason)
                return
        if path == ECHO_PATH or path.startswith(ECHO_PATH + "/"):
            self._echo(path, body)
            return
        with self.server.admitted() as refusal:
            if refusal is not None:
                self.close_connection = True  # reconnect later: maybe to the next stack on this port
                self._refuse(503, refusal, _unavailable_reason(refusal), [("Retry-After", _retry_after(refusal))])
                return
            if path.startswith(INVOKE_PATH) and self.command == "POST":
                self._direct_invoke(path[len(INVOKE_PATH):], body)
                return
            self._route(path, body)

    def _route(self, path: str, body: bytes) -> None:
        match = self.server.router.match(self.command, path)
        if match is None:
            allowed = self.server.router.allowed_methods(path)
            if allowed:
                self._refuse(405, "method_not_allowed", f"{self.command} {path}: the template's routes take "
                             f"{', '.join(allowed)} here", [("Allow", ", ".join(allowed))])
            else:
                self._refuse(404, "no_route", f"no route: {self.command} {path} is not in template.yaml")
            return
        event = build_event(method=self.command, raw_path=self.path, headers=list(self.headers.items()),
                            body=body, match=match, stage=self.server.stage, source_ip=self.client_address[0],
                            binary_media_types=self.server.binary_media_types)
        response = self._invoke(match.function.logical_id, event)
        self._send(response)
        self._log(response.status, match.function.logical_id)

    def _health(self) -> None:
        with self.server.admitted() as refusal:
            if refusal is None:
                self._send_json(200, {"status": "ready"})
            else:
                self._send(_json_response(503, {"status": refusal}, [("Retry-After", _retry_after(refusal))]))

    def _read_body(self) -> bytes:
        """Content-Length or chunked bodies (some providers stream theirs), at most API Gateway's 10 MB,
        before the request's deadline (``TimeoutError`` otherwise: a 408)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        text = self.headers.get("Content-Length")
        if not text:
            return b""
        if not text.strip().isdigit():
            raise _UnreadableBody(f"Content-Length {text!r} is not a byte count")
        length = int(text)
        if length > MAX_BODY_BYTES:
            raise _BodyTooLarge
        body = self.rfile.read(length)
        if len(body) < length:
            raise _UnreadableBody(f"the connection closed after {len(body)} of the {length} bytes "
                                  "Content-Length announced")
        return body

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1026)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _UnreadableBody(f"bad chunk size line {line[:40]!r}") from None
            if size == 0:
                for _ in range(100):
                    if not self.rfile.readline(8192).strip():
                        return b"".join(chunks)  # trailers skipped
                raise _UnreadableBody("too many trailer lines")
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyTooLarge
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _UnreadableBody("the connection closed inside a chunk")
            chunks.append(chunk)
            self.rfile.readline(3)

    def _invoke(self, function: str, event: dict[str, Any]) -> ProxyResponse:
        try:
            return parse_response(self.server.invoke(function, event))
        except FunctionTimeout as exc:
            log.error("%s timed out: %s", function, exc.error_message)
            return _json_response(504, {"message": "Endpoint request timed out"})
        except FunctionError as exc:
            if exc.error_type == "Runtime.Stopped" or (self.server.stopping and exc.error_type == "Runtime.ExitError"):
                # the stop outlasted its drain and took the function away: a retry (on the next start) can fix it
                log.warning("%s was stopped under a request in flight", function)
                self.close_connection = True
                return _stopping_response()
            log.error("%s failed: %s: %s\n%s", function, exc.error_type, exc.error_message, "".join(exc.stack))
            return _json_response(502, {"message": "Internal server error"})
        except MalformedResponse as exc:
            log.error("%s returned a malformed proxy response: %s", function, exc)
            return _json_response(502, {"message": "Internal server error"})
        except StoreError as exc:
            return _store_failed_response(function, exc)
        except Exception:  # noqa: BLE001 - the runtime's own fault: an answer, never a dropped connection
            log.exception("invoking %s failed in the local stack itself", function)
            return _json_response(502, {"message": "Internal server error"})

    def _direct_invoke(self, function: str, body: bytes) -> None:
        """``sam local invoke``'s counterpart: POST any event (e.g. a file from events/) to a function."""
        try:
            event = json.loads(body or b"{}")
        except ValueError as exc:
            self._refuse(400, "bad_request", f"the event is not JSON: {exc}")
            return
        try:
            result = self.server.invoke(function, event)
        except KeyError:
            self._refuse(404, "no_function", f"no function {function!r} in template.yaml")
            return
        except FunctionError as exc:
            self._send_json(200, {"errorType": exc.error_type, "errorMessage": exc.error_message,
                                  "stackTrace": exc.stack})
            return
        except StoreError as exc:
            self._send(_store_failed_response(function, exc))
            return
        self._send_json(200, result)

    def _echo(self, path: str, body: bytes) -> None:
        if self.command == "GET" and path == ECHO_PATH:
            self._send_json(200, {"received": self.server.echo.records()})
            return
        if self.command == "DELETE" and path == ECHO_PATH:
            self.server.echo.clear()
            self._send_json(200, {"received": []})
            return
        entry = self.server.echo.record(self.command, self.path, dict(self.headers.items()), body)
        log.info("echo endpoint received %s %s: %s", self.command, mask_url(self.path), entry["body"][:200])
        self._send_json(200, {"ok": True, "id": f"echo-{int(entry['received_at'] * 1000)}"})

    def _send_json(self, status: int, document: Any) -> None:
        self._send(_json_response(status, document))

    def _send(self, response: ProxyResponse) -> None:
        self._answered = True
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _log(self, status: int, function: str) -> None:
        """One line per request; secret query values (``?secret=`` on open-wa's URL) show as ``***``."""
        path = self.path
        if "?" in path:
            try:
                extra = list(self.server.sensitive_names(path.split("?", 1)[0]))
            except Exception:  # noqa: BLE001 - a log line must not fail the request it describes
                extra = []
            path = mask_url(path, extra)
        log.info("%s %s -> %d (%s, %.0f ms)", self.command, path, status, function,
                 (time.monotonic() - self._started) * 1000)


def _retry_after(state: str) -> str:
    return str(RETRY_AFTER_SECONDS[state])


def _unavailable_reason(state: str) -> str:
    return f"the local stack is {state}; retry in {RETRY_AFTER_SECONDS[state]} s"


def _stopping_response() -> ProxyResponse:
    return _json_response(503, {"message": _unavailable_reason("stopping"), "code": "stopping"},
                          [("Retry-After", _retry_after("stopping"))])


def _store_failed_response(function: str, exc: StoreError) -> ProxyResponse:
    """The function ran, but what it wrote is not on disk: answering its 200 would acknowledge what a kill
    could lose. A sender that retries loses nothing; the stack needs a restart once the disk is fixed."""
    log.error("%s: its writes did not reach the data folder, so its answer is withheld: %s", function, exc)
    return _json_response(503, {"message": f"the local stack cannot save to its data folder ({exc}); nothing was "
                                           "acknowledged, retry once the stack is restarted", "code": "store_failed"},
                          [("Retry-After", _retry_after("store_failed"))])


def _json_response(status: int, document: Any, headers: Iterable[tuple[str, str]] = ()) -> ProxyResponse:
    return ProxyResponse(status, [("Content-Type", "application/json"), *headers], json_text(document).encode("utf-8"))
