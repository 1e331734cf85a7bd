"""The local API: template routes served over HTTP, plus the stack's own ``/_local/...`` endpoints.

``/_local/echo`` (any method, any sub-path) stands in for a third party: it records what it receives, and
``GET /_local/echo`` shows the records, so a reply's full round trip can be watched without an account
anywhere. ``GET /_local/health`` answers once the stack is ready. ``POST /_local/invoke/{LogicalId}``
invokes a function directly with the posted event, like ``sam local invoke``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chatbridge.local.apigateway import MalformedResponse, ProxyResponse, Router, build_event, parse_response
from chatbridge.local.runtime import FunctionError, FunctionTimeout
from chatbridge.spec.redaction import mask_url

log = logging.getLogger("chatbridge.local")

ECHO_PATH = "/_local/echo"
INVOKE_PATH = "/_local/invoke/"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


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

    def __init__(self, address: tuple[str, int], *, router: Router, invoke: Callable[[str, dict], Any],
                 stage: str, binary_media_types: tuple[str, ...] = (),
                 sensitive_names: Callable[[str], Iterable[str]] = lambda path: ()) -> None:
        """``sensitive_names(path)``: query names to mask in this path's log line besides the usual ones
        (``chatbridge.spec.redaction``), e.g. the query secret a webhook spec's verification reads."""
        super().__init__(address, _Handler)
        self.sensitive_names = sensitive_names
        self.router = router
        self.invoke = invoke
        self.stage = stage
        self.binary_media_types = binary_media_types
        self.echo = EchoRecorder()
        self.ready = threading.Event()

    @property
    def url(self) -> str:
        """Where this machine reaches the server (a wildcard bind is reached on loopback)."""
        host, port = self.server_address[:2]
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"


class _BodyTooLarge(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    server: LocalApiServer
    protocol_version = "HTTP/1.1"
    server_version = "chatbridge-local"
    # Headers and body go out in separate writes; with Nagle on, a keep-alive client's delayed ACK holds
    # the body back about 40 ms per request.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        """Requests are logged once, with their outcome, by ``_handle``."""

    def _handle(self) -> None:
        started = time.monotonic()
        path = self.path.split("?", 1)[0]
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True  # the unread body makes the connection unusable
            self._send_json(413, {"message": "Request Too Long"})
            return
        except ValueError as exc:
            self._send_json(400, {"message": f"unreadable request body: {exc}"})
            return
        if path == ECHO_PATH or path.startswith(ECHO_PATH + "/"):
            self._echo(path, body)
            return
        if path == "/_local/health":
            self._send_json(200 if self.server.ready.is_set() else 503,
                            {"status": "ready" if self.server.ready.is_set() else "starting"})
            return
        if not self.server.ready.is_set():
            self._send_json(503, {"message": "the local stack is still starting"})
            return
        if path.startswith(INVOKE_PATH) and self.command == "POST":
            self._direct_invoke(path[len(INVOKE_PATH):], body)
            return
        match = self.server.router.match(self.command, path)
        if match is None:
            reason = "method not allowed" if self.server.router.allows_path(path) else "no route"
            self._send_json(404, {"message": f"{reason}: {self.command} {path} is not in template.yaml"})
            self._log(404, "-", started)
            return
        event = build_event(method=self.command, raw_path=self.path, headers=list(self.headers.items()),
                            body=body, match=match, stage=self.server.stage, source_ip=self.client_address[0],
                            binary_media_types=self.server.binary_media_types)
        response = self._invoke(match.function.logical_id, event)
        self._send(response)
        self._log(response.status, match.function.logical_id, started)

    def _read_body(self) -> bytes:
        """Content-Length or chunked bodies (some providers stream theirs), at most API Gateway's 10 MB."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise _BodyTooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY_BYTES:
            raise _BodyTooLarge
        return self.rfile.read(length) if length else b""

    def _invoke(self, function: str, event: dict[str, Any]) -> ProxyResponse:
        try:
            return parse_response(self.server.invoke(function, event))
        except FunctionTimeout as exc:
            log.error("%s timed out: %s", function, exc.error_message)
            return _json_response(504, {"message": "Endpoint request timed out"})
        except FunctionError as exc:
            log.error("%s failed: %s: %s\n%s", function, exc.error_type, exc.error_message, "".join(exc.stack))
            return _json_response(502, {"message": "Internal server error"})
        except MalformedResponse as exc:
            log.error("%s returned a malformed proxy response: %s", function, exc)
            return _json_response(502, {"message": "Internal server error"})

    def _direct_invoke(self, function: str, body: bytes) -> None:
        """``sam local invoke``'s counterpart: POST any event (e.g. a file from events/) to a function."""
        try:
            event = json.loads(body or b"{}")
        except ValueError as exc:
            self._send_json(400, {"message": f"the event is not JSON: {exc}"})
            return
        try:
            result = self.server.invoke(function, event)
        except KeyError:
            self._send_json(404, {"message": f"no function {function!r} in template.yaml"})
            return
        except FunctionError as exc:
            self._send_json(200, {"errorType": exc.error_type, "errorMessage": exc.error_message,
                                  "stackTrace": exc.stack})
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
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _log(self, status: int, function: str, started: float) -> None:
        """One line per request; secret query values (``?secret=`` on open-wa's URL) show as ``***``."""
        path = self.path
        if "?" in path:
            try:
                extra = list(self.server.sensitive_names(path.split("?", 1)[0]))
            except Exception:  # noqa: BLE001 - a log line must not fail the request it describes
                extra = []
            path = mask_url(path, extra)
        log.info("%s %s -> %d (%s, %.0f ms)", self.command, path, status, function,
                 (time.monotonic() - started) * 1000)


def _json_response(status: int, document: Any) -> ProxyResponse:
    return ProxyResponse(status, [("Content-Type", "application/json")],
                         json.dumps(document, ensure_ascii=False).encode("utf-8"))
