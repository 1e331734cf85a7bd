"""moto's HTTP server finding the backend for a request once per host, not by scanning its package per request.

moto's ``DomainDispatcherApplication.get_application`` runs, for every request and while holding the
dispatcher's one lock, ``get_backend_for_host``: a directory listing of moto's package (an ``isdir`` for
each of its ~200 service folders) and then up to every service's URL patterns. Under the local stack's
load that lock was where moto's request threads queued: a sixth of the stack process's busy time. The
answer depends only on the host string (``<service>.<region>.amazonaws.com``), so it is kept per host.

moto then turns each answer into JSON with its generic, model-driven serializer, which walks every member
of every shape: for a DynamoDB item each attribute value is a ten-member structure, so a chat item (with
the provider's raw payload as nested maps) or a stream batch of such images cost more to answer than the
request cost to run; it was over half of the stack process's CPU. DynamoDB's and DynamoDB Streams' data
operations already hold their answer in wire form (attribute values as ``{"S": ...}``, binary as base64),
so those answers are written with ``json.dumps`` instead, keeping only the operation's modelled output
members: timestamps become epoch seconds (millisecond precision) and bytes base64, as moto's JSON
serializer does. Errors and every other operation keep moto's
serializer. ``tests/local/test_moto_server.py`` checks that both give boto3 the same answers.

Finally, werkzeug's development server (which moto's ``ThreadedMotoServer`` runs) answers every request
with ``Connection: close``: each DynamoDB call of every handler, and each poll of the pollers, opened a new
TCP connection, started a new server thread, and after answering waited up to 10 ms in a loop draining the
socket. Under the bench's load that connection churn (connect, accept, thread start, close) and the split
header/body writes were about a third of the stack process's busy time. ``MotoServer`` serves the same
application with HTTP/1.1 keep-alive instead: the request body is read whole by its ``Content-Length``
before the application runs (so whatever the application leaves unread cannot spill into the next
request), and the answer goes out in one write with its length. A chunked or ``Expect: 100-continue``
request is left to werkzeug's own handling, which closes the connection after it.

DynamoDB's requests (``X-Amz-Target: DynamoDB_20120810.*``, every call the handlers make) skip moto's
dispatcher and Flask app altogether: moto's ``DynamoHandler`` is called as its Flask route calls it (the same
request class, a ``ClientError`` as a 400 with its message). The dispatcher takes one lock per request to pick
the application, and Flask's request and app contexts, routing and response object were another fifth of the
stack process's busy time; without them the bench's 8 connections went from 60 to 73 requests a second.
``tests/local/test_moto_server.py`` checks that both routes answer alike, errors included.
"""

from __future__ import annotations

import base64
import calendar
import functools
import io
import json
import threading
import traceback
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any

KEPT_HOSTS = 256  # a handful of services and regions; a cap in case a client sends arbitrary hosts
PLAIN_ANSWERS = {
    "dynamodb": frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                           "BatchWriteItem", "TransactGetItems", "TransactWriteItems"}),
    "dynamodbstreams": frozenset({"GetRecords", "GetShardIterator"}),
}
CONTENT_TYPE = "application/x-amz-json-1.0"  # both services' protocol: json, jsonVersion 1.0
DYNAMODB_TARGET = "DynamoDB_20120810."  # X-Amz-Target of DynamoDB's operations (Streams' is DynamoDBStreams_...)

_installed: dict[str, Any] = {}


def install() -> Callable[[], None]:
    """Patch moto's dispatcher (once per process); returns a function that undoes it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if _installed:
        return lambda: None
    original = _installed["get_backend_for_host"] = DomainDispatcherApplication.get_backend_for_host

    @functools.wraps(original)
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host is None:
            return None
        known: dict[str, Any] = self.__dict__.setdefault("_chatbridge_backends", {})
        if host not in known:
            if len(known) >= KEPT_HOSTS:
                known.clear()
            known[host] = original(self, host)
        return known[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
    for owner in _handlers():
        _installed[owner.__name__] = owner.serialized
        owner.serialized = _plain_serialized(owner.serialized)  # type: ignore[method-assign]
    return uninstall


class MotoServer:
    """moto's whole application on a loopback port, with keep-alive connections (see the module's docstring),
    and on a second port for the local stack's functions, whose DynamoDB writes answer before they are on
    disk (``moto_dynamodb.durability_deferred``): the stack makes every write of an invocation durable before
    it acknowledges the invocation's end, so the function need not wait for each one. Every other client
    (the stack's own, a developer's AWS CLI) uses the first port, where an answer means the change is on disk."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        application = DomainDispatcherApplication(create_backend_app)
        self._servers = [make_server(ip_address, port, application, threaded=True,
                                     request_handler=_keep_alive_handler(defer_durability=False)),
                         make_server(ip_address, 0, application, threaded=True,
                                     request_handler=_keep_alive_handler(defer_durability=True))]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for server, name in zip(self._servers, ("local-moto", "local-moto-functions"), strict=True):
            thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def get_host_and_port(self) -> tuple[str, int]:
        """The port where an answer to a write means it is on disk."""
        host, port = self._servers[0].server_address[:2]
        return str(host), int(port)

    def get_functions_port(self) -> int:
        """The port for the stack's functions, whose writes are made durable at the end of each invocation."""
        return int(self._servers[1].server_address[1])

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join()


@functools.cache
def _keep_alive_handler(*, defer_durability: bool) -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    from chatbridge.local.moto_dynamodb import durability_deferred

    class KeepAliveRequestHandler(MotoRequestHandler):  # type: ignore[misc, valid-type]
        protocol_version = "HTTP/1.1"

        def run_wsgi(self) -> None:
            if ("chunked" in self.headers.get("Transfer-Encoding", "").lower()
                    or self.headers.get("Expect", "").strip().lower() == "100-continue"):
                self.close_connection = True  # werkzeug's own way, which closes the connection after it
                super().run_wsgi()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if len(body) < length:  # the client went away mid-body
                self.close_connection = True
                return
            self.environ = environ = self.make_environ()
            environ["wsgi.input"] = io.BytesIO(body)
            if self.command == "POST" and self.path == "/" and self.headers.get(
                    "X-Amz-Target", "").startswith(DYNAMODB_TARGET):
                try:
                    with durability_deferred(defer_durability):
                        status, headers, content = _dynamodb_answer(environ)
                except Exception:  # noqa: BLE001 - as below
                    self._internal_error()
                    return
                self._write(f"{status} {HTTPStatus(status).phrase}", headers, content)
                return
            answer: dict[str, Any] = {}

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[
                    [bytes], None]:
                answer["status"], answer["headers"] = status, headers
                return answer.setdefault("written", []).append

            try:
                result: Iterable[bytes] = self.server.app(environ, start_response)
                try:
                    chunks = [*answer.get("written", []), *result]
                finally:
                    if hasattr(result, "close"):
                        result.close()
            except Exception:  # noqa: BLE001 - as werkzeug does: a 500 and the traceback in the log
                self._internal_error()
                return
            self._write(answer["status"], answer["headers"], b"".join(chunks))

        def _internal_error(self) -> None:
            self.close_connection = True
            self.server.log("error", f"Error on request:\n{traceback.format_exc()}")
            self._write("500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], b"internal error")

        def _write(self, status: str, headers: list[tuple[str, str]], payload: bytes) -> None:
            code, _, reason = status.partition(" ")
            lines = [f"HTTP/1.1 {code} {reason}"]
            lines.extend(f"{name}: {value}" for name, value in headers
                         if name.lower() not in ("content-length", "connection", "transfer-encoding"))
            bodiless = self.command == "HEAD" or code.startswith("1") or code in ("204", "304")
            declared = next((value for name, value in headers if name.lower() == "content-length"), None)
            if not bodiless:
                lines.append(f"Content-Length: {len(payload)}")
            elif declared is not None:
                lines.append(f"Content-Length: {declared}")  # HEAD: the length a GET would have had
            if self.close_connection:
                lines.append("Connection: close")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            self.wfile.write(head if bodiless else head + payload)
            self.wfile.flush()
            self.log_request(code, len(payload))

    return KeepAliveRequestHandler


def _dynamodb_answer(environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """A DynamoDB request answered by moto's ``DynamoHandler`` directly, as its Flask route would: the same
    request class, the same handler call, a ``ClientError`` as a 400 with its message."""
    from botocore.exceptions import ClientError
    from moto.dynamodb.responses import DynamoHandler

    request = _server_request()(environ)
    try:
        result = DynamoHandler.dispatch(request, request.raw_url, dict(request.headers))
    except ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    status, headers, content = result if len(result) == 3 else (200, {}, result)
    payload = content.encode() if isinstance(content, str) else bytes(content or b"")
    return int(status), [(str(name), str(value)) for name, value in headers.items()], payload


@functools.cache
def _server_request() -> type:
    """moto's request class as its server mode builds it (``from_wsgi_server``), without Flask's half."""
    from moto.core.request import Request

    class ServerRequest(Request):  # type: ignore[misc, valid-type]
        from_wsgi_server = True

    return ServerRequest


def uninstall() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if "get_backend_for_host" in _installed:
        DomainDispatcherApplication.get_backend_for_host = _installed.pop(  # type: ignore[method-assign]
            "get_backend_for_host")
    for owner in _handlers():
        if owner.__name__ in _installed:
            owner.serialized = _installed.pop(owner.__name__)  # type: ignore[method-assign]


def _handlers() -> list[type]:
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    return [DynamoHandler, DynamoDBStreamsHandler]


def _plain_serialized(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def serialized(self: Any, action_result: Any) -> Any:
        result = action_result.result
        if isinstance(result, Exception) or self._get_action() not in PLAIN_ANSWERS.get(self.service_name, ()):
            return original(self, action_result)
        members = _output_members(self.service_name, self._get_action())
        answer = {name: value for name, value in (result or {}).items() if name in members}  # as moto drops extras
        body = json.dumps(answer, default=_wire_value, separators=(",", ":"))
        return 200, {"Content-Type": CONTENT_TYPE, **self.response_headers}, body

    return serialized


@functools.cache
def _output_members(service: str, action: str) -> frozenset[str]:
    from moto.core.utils import get_service_model

    shape = get_service_model(service).operation_model(action).output_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def _wire_value(value: Any) -> Any:
    """What moto's JSON serializer makes of the values ``json`` cannot write."""
    if isinstance(value, datetime):  # moto's datetimes are naive UTC; timegm reads them as UTC
        seconds = calendar.timegm(value.utctimetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not part of a DynamoDB answer")
