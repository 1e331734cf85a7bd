"""The local API's HTTP edge on real sockets: backlog, deadlines, bounded threads, JSON refusals, starting and
stopping, and the operator routes' cross-site guard.

Each test runs a real ``LocalApiServer`` on port 0 with the template router and a stand-in for the function
runtime (what is under test is the edge, which answers before or around any function); the stop test runs
the real stack. Timeouts are short settings of the server, and every wait is on an answer or a condition.
"""

import contextlib
import http.client
import json
import select
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import pytest

from chatbridge.cli.client import ChatbridgeClient
from chatbridge.local.apigateway import Router
from chatbridge.local.http import MAX_CONNECTIONS, LocalApiServer
from chatbridge.local.template import ApiRoute, FunctionDef

CLIENT_TIMEOUT = 15  # a bound for failing, never a measured time


def _fn(name):
    return FunctionDef(logical_id=name, name=name, code_dir=Path("."), handler="app.handler",
                       environment={}, layer_dirs=())


ROUTER = Router([
    (ApiRoute("/webhooks/incoming/{identifier}", "POST", "Post"), _fn("Ingest")),
    (ApiRoute("/webhooks/incoming/{identifier}", "GET", "Get"), _fn("Ingest")),
    (ApiRoute("/admin/{proxy+}", "ANY", "Admin"), _fn("Admin")),
])


class Functions:
    """Stands in for the worker processes: records each invocation and answers with what it got."""

    def __init__(self):
        self.calls = []
        self.hold = None  # an Event: invocations wait for it (a request kept in flight)
        self.entered = threading.Event()

    def __call__(self, function, event):
        self.calls.append((function, event))
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(CLIENT_TIMEOUT)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"function": function, "method": event.get("httpMethod"),
                                    "body": event.get("body")})}


@contextlib.contextmanager
def running(*, ready=True, serve=True, **options):
    functions = Functions()
    server = LocalApiServer(("127.0.0.1", 0), router=ROUTER, invoke=functions, stage="test", **options)
    server.functions = functions
    if ready:
        server.ready.set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    server.serve = thread.start
    if serve:
        thread.start()
    try:
        yield server
    finally:
        if thread.is_alive():
            server.shutdown()
        server.server_close()


def _connect(server):
    return socket.create_connection(server.server_address[:2], timeout=CLIENT_TIMEOUT)


def _read_answer(sock):
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return response.status, response.headers, body


def exchange(server, raw):
    with _connect(server) as sock:
        sock.sendall(raw)
        return _read_answer(sock)


def request(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=CLIENT_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _edge_error(status, headers, body, expected_status, expected_code):
    assert (status, headers["Content-Type"]) == (expected_status, "application/json"), body
    document = json.loads(body)
    assert document["code"] == expected_code and document["message"], document
    return document


def _eventually(check, timeout=CLIENT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout} s")


# -- A. listen backlog ----------------------------------------------------------------------------------

@pytest.mark.skipif(sys.platform != "linux", reason="reads the listen queue from Linux's TCP_INFO")
def test_the_listen_backlog_holds_a_burst_of_50_connections_until_the_server_accepts_them():
    with running(serve=False) as server:
        listener = server.socket

        def queue():  # Linux's tcp_info of a listening socket: (connections waiting, backlog)
            return struct.unpack_from("II", listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104), 24)

        assert queue()[1] >= 50  # the stdlib's default was 5: the 7th connection of a burst waited or was reset
        clients = [_connect(server) for _ in range(50)]
        try:
            for sock in clients:
                sock.sendall(b"GET /_local/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            _eventually(lambda: queue()[0] == 50)  # every one of them is held, none dropped
            server.serve()
            answers = [_read_answer(sock) for sock in clients]
        finally:
            for sock in clients:
                sock.close()
    assert [status for status, _, _ in answers] == [200] * 50


# -- B. deadlines and bounded threads -------------------------------------------------------------------

def test_a_body_shorter_than_its_content_length_gets_408_and_frees_its_thread():
    with running(read_timeout=0.5) as server, _connect(server) as sock:
        sock.sendall(b"POST /webhooks/incoming/shop HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"only\": 10")
        status, headers, body = _read_answer(sock)
        _edge_error(status, headers, body, 408, "request_timeout")
        assert headers["Connection"] == "close"
        assert sock.recv(1) == b""  # the server closed its end
        _eventually(lambda: server.open_connections == 0)
        assert server.functions.calls == []


def test_a_client_that_trickles_its_headers_is_cut_off_at_the_request_deadline():
    with running(read_timeout=0.5) as server, _connect(server) as sock:
        sock.sendall(b"POST /webhooks/incoming/shop HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        sent = 0
        while not select.select([sock], [], [], 0.05)[0]:  # a byte every 50 ms: each read is quick, the whole is not
            sock.sendall(b"a")
            sent += 1
            assert sent < CLIENT_TIMEOUT / 0.05, "the server never answered a trickling client"
        status, headers, body = _read_answer(sock)
        _edge_error(status, headers, body, 408, "request_timeout")


def test_an_idle_keep_alive_connection_is_closed_quietly_after_the_read_timeout():
    with running(read_timeout=0.3) as server, _connect(server) as sock:
        sock.sendall(b"GET /_local/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _, _ = _read_answer(sock)
        assert status == 200
        assert sock.recv(1) == b""  # closed, no stray 408 for a client to take as its next answer


def test_an_http_0_9_request_line_is_refused_at_once_instead_of_waiting_for_headers():
    with running(read_timeout=60) as server:  # longer than CLIENT_TIMEOUT: waiting for headers would fail here
        status, headers, body = exchange(server, b"GET /webhooks/incoming/shop\r\n")
    assert "HTTP/0.9" in _edge_error(status, headers, body, 400, "bad_request")["message"]


@pytest.mark.parametrize("line", [b"hello\r\n", b"GET / HTTP/1.1 extra\r\n\r\n", b"GET / HTTX/1.1\r\n\r\n",
                                  b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"])
def test_a_garbage_request_line_gets_a_json_400(line):
    with running(read_timeout=60) as server:
        _edge_error(*exchange(server, line), 400, "bad_request")


@pytest.mark.parametrize(("raw", "status", "code"), [
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "uri_too_long"),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431, "headers_too_large"),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n", 431, "headers_too_large"),
    (b"BREW /webhooks/incoming/shop HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 501, "method_not_implemented"),
    (b"GET / HTTP/2.0\r\n\r\n", 505, "http_version_not_supported"),
    (b"POST /webhooks/incoming/shop HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400, "bad_request"),
    (b"POST /webhooks/incoming/shop HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request"),
    (b"POST /webhooks/incoming/shop HTTP/1.1\r\nContent-Length: 10485761\r\n\r\n", 413, "too_large"),
])
def test_every_refusal_of_the_http_layer_is_the_documented_json_never_an_html_page(raw, status, code):
    with running(read_timeout=60) as server:
        _edge_error(*exchange(server, raw), status, code)
        assert server.functions.calls == []


def test_a_body_cut_short_by_the_client_closing_is_a_400_not_a_half_request():
    with running() as server, _connect(server) as sock:
        sock.sendall(b"POST /webhooks/incoming/shop HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"a\"")
        sock.shutdown(socket.SHUT_WR)
        assert "4 of the 100" in _edge_error(*_read_answer(sock), 400, "bad_request")["message"]
        assert server.functions.calls == []


def test_many_slow_clients_hold_at_most_max_connections_threads_and_a_good_request_still_gets_in():
    with running(read_timeout=1.0, max_connections=4) as server:
        threads_before = threading.active_count()
        slow = [_connect(server) for _ in range(12)]
        try:
            for sock in slow:
                sock.sendall(b"POST /webhooks/incoming/shop HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
            _eventually(lambda: server.open_connections == 4)
            # the other eight wait in the backlog, threadless (threads of earlier tests can only have ended)
            assert threading.active_count() - threads_before <= 4
            status, _, body = request(server, "POST", "/webhooks/incoming/shop", body=b'{"ok": 1}',
                                      headers={"Content-Type": "application/json"})
            assert status == 200 and json.loads(body)["function"] == "Ingest"
            assert all(_read_answer(sock)[0] == 408 for sock in slow)
        finally:
            for sock in slow:
                sock.close()
        _eventually(lambda: server.open_connections == 0)


def test_the_default_connection_cap_covers_a_burst_of_50():
    assert MAX_CONNECTIONS >= 50


# -- C. routes the template does not have ---------------------------------------------------------------

def test_an_unknown_path_is_a_json_404_and_a_known_path_with_another_method_a_405_with_allow():
    with running() as server:
        _edge_error(*request(server, "GET", "/nowhere"), 404, "no_route")
        status, headers, body = request(server, "DELETE", "/webhooks/incoming/shop")
        _edge_error(status, headers, body, 405, "method_not_allowed")
        assert headers["Allow"] == "GET, POST"


# -- D. starting and stopping ---------------------------------------------------------------------------

def test_while_starting_requests_get_503_with_retry_after_and_health_says_starting():
    with running(ready=False) as server:
        status, headers, body = request(server, "POST", "/webhooks/incoming/shop", body=b"{}")
        assert "starting" in _edge_error(status, headers, body, 503, "starting")["message"]
        assert int(headers["Retry-After"]) > 0
        status, headers, body = request(server, "GET", "/_local/health")
        assert (status, json.loads(body), int(headers["Retry-After"]) > 0) == (503, {"status": "starting"}, True)
        assert server.functions.calls == []


def test_the_cli_waits_for_a_starting_stack_as_its_retry_after_says_and_fails_at_once_on_a_stopping_one():
    from chatbridge.cli.client import ApiError

    with running(ready=False) as server:
        refused, admitted = threading.Event(), server.admitted

        @contextlib.contextmanager
        def watched():
            with admitted() as refusal:
                if refusal == "starting":
                    refused.set()
                yield refusal

        server.admitted = watched
        threading.Thread(target=lambda: refused.wait(CLIENT_TIMEOUT) and server.ready.set(), daemon=True).start()
        answer = ChatbridgeClient(server.url).list_chats()
        assert refused.is_set() and answer["function"] == "Admin"
        server.stopping = True
        with pytest.raises(ApiError) as stopped:
            ChatbridgeClient(server.url).list_chats()
    assert stopped.value.status == 503 and "stopping" in stopped.value.reason


def test_while_stopping_new_requests_get_503_and_the_one_in_flight_completes():
    with running() as server:
        server.functions.hold = threading.Event()
        first = {}
        in_flight = threading.Thread(target=lambda: first.update(answer=request(
            server, "POST", "/webhooks/incoming/shop", body=b'{"n": 1}', headers={"Content-Type": "application/json"})))
        in_flight.start()
        assert server.functions.entered.wait(CLIENT_TIMEOUT)
        drained = {}
        stopping = threading.Thread(target=lambda: drained.update(result=server.drain(timeout=CLIENT_TIMEOUT)))
        stopping.start()
        _eventually(lambda: server.stopping)
        status, headers, body = request(server, "POST", "/webhooks/incoming/shop", body=b'{"n": 2}')
        _edge_error(status, headers, body, 503, "stopping")
        assert int(headers["Retry-After"]) > 0 and headers["Connection"] == "close"
        assert json.loads(request(server, "GET", "/_local/health")[2]) == {"status": "stopping"}
        assert stopping.is_alive()  # still waiting for the request in flight
        server.functions.hold.set()
        in_flight.join(CLIENT_TIMEOUT)
        stopping.join(CLIENT_TIMEOUT)
    status, _, body = first["answer"]
    assert status == 200 and json.loads(body)["body"] == '{"n": 1}'
    assert drained["result"] is True
    assert len(server.functions.calls) == 1


def test_a_function_the_stop_took_away_under_a_request_is_a_503_not_a_502():
    from chatbridge.local.runtime import FunctionError

    def stopped(function, event):
        raise FunctionError(function, "Runtime.Stopped", "the local stack is stopping")

    with running() as server:
        server.invoke = stopped
        status, headers, body = request(server, "POST", "/webhooks/incoming/shop", body=b"{}")
    _edge_error(status, headers, body, 503, "stopping")
    assert int(headers["Retry-After"]) > 0


def test_a_fault_of_the_runtime_itself_is_answered_like_an_integration_failure_not_a_dropped_connection():
    def broken(function, event):
        raise RuntimeError("the runtime broke")

    with running() as server:
        server.invoke = broken
        status, headers, body = request(server, "POST", "/webhooks/incoming/shop", body=b"{}")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})


@pytest.mark.slow
def test_stopping_the_stack_lets_a_request_in_flight_finish_in_its_function_instead_of_a_502():
    from chatbridge.local.stack import LocalStack, StackOptions
    from support.paths import FIXTURES

    stack = LocalStack(StackOptions(FIXTURES / "local_stack" / "template.yaml", port=0, stack_name="chatbridge-drain"))
    stack.start()
    try:
        api, real_invoke = stack.api, stack.api.invoke
        entered, release = threading.Event(), threading.Event()

        def held_invoke(function, event):
            entered.set()
            assert release.wait(CLIENT_TIMEOUT)
            return real_invoke(function, event)

        api.invoke = held_invoke
        first = {}
        in_flight = threading.Thread(target=lambda: first.update(answer=request(api, "GET", "/things/in-flight")))
        in_flight.start()
        assert entered.wait(CLIENT_TIMEOUT)
        stopping = threading.Thread(target=stack.stop)
        stopping.start()
        _eventually(lambda: api.stopping)
        _edge_error(*request(api, "GET", "/things/late"), 503, "stopping")
        release.set()
        in_flight.join(CLIENT_TIMEOUT)
        stopping.join(60)
        assert not stopping.is_alive()
    finally:
        release.set()
        stack.stop()
    status, _, body = first["answer"]
    assert status == 200, body  # the real ApiFunction answered: its worker was still running
    assert json.loads(body)["event"]["path"] == "/things/in-flight"


@pytest.mark.slow
def test_ctrl_c_under_keep_alive_load_answers_200_or_503_never_502():
    import signal
    from urllib.parse import urlsplit

    from support.local_stack import LocalStackProcess
    from support.paths import FIXTURES

    process = LocalStackProcess("--template", str(FIXTURES / "local_stack" / "template.yaml"))
    url = urlsplit(process.url)
    answers, loaded = [], threading.Event()

    def keep_alive_client():  # one connection, request after request, until the stack is gone
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=CLIENT_TIMEOUT)
        try:
            while True:
                connection.request("GET", "/things/load")
                response = connection.getresponse()
                answers.append((response.status, response.getheader("Retry-After"), response.read()))
                if len(answers) >= 3:
                    loaded.set()
                if response.getheader("Connection") == "close":
                    connection.close()  # told to reconnect: do, as a provider would
        except OSError:
            pass
        finally:
            connection.close()

    client = threading.Thread(target=keep_alive_client)
    client.start()
    try:
        assert loaded.wait(60), process.lines[-20:]
        process.process.send_signal(signal.SIGINT)
        assert process.process.wait(60) == 0
    finally:
        if process.process.poll() is None:
            process.process.kill()
        client.join(CLIENT_TIMEOUT)
    statuses = {status for status, _, _ in answers}
    assert statuses <= {200, 503}, [a for a in answers if a[0] not in (200, 503)][:3]
    assert all(retry_after and json.loads(body)["code"] == "stopping"
               for status, retry_after, body in answers if status == 503)


# -- E. operator routes refuse what a web page could send -----------------------------------------------

def test_a_cross_site_text_plain_post_to_the_admin_api_reaches_no_function():
    with running() as server:
        origin = f"http://127.0.0.1:{server.server_address[1]}"
        status, headers, body = request(server, "POST", "/admin/chats/1/messages", body=b'{"msg": "hi"}',
                                        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"})
        _edge_error(status, headers, body, 403, "cross_site")
        # without Origin (an old browser's form): the content type alone refuses it
        _edge_error(*request(server, "POST", "/admin/chats/1/messages", body=b'{"msg": "hi"}',
                             headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
        _edge_error(*request(server, "POST", "/admin/chats/1/close", body=b"",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}),
                    415, "unsupported_media_type")
        _edge_error(*request(server, "PUT", "/admin/rest-apis/x", body=b"{}",
                             headers={"Content-Type": "application/json", "Origin": "null"}), 403, "cross_site")
        _edge_error(*request(server, "PUT", "/admin/rest-apis/x", body=b"{}",  # another local port: another site
                             headers={"Content-Type": "application/json", "Origin": "http://127.0.0.1:1"}),
                    403, "cross_site")
        assert server.functions.calls == []
        # the console, on the same origin, sending JSON: through
        status, _, body = request(server, "POST", "/admin/chats/1/messages", body=b'{"msg": "hi"}',
                                  headers={"Content-Type": "application/json; charset=utf-8", "Origin": origin})
        assert status == 200 and json.loads(body)["function"] == "Admin"


def test_a_dns_rebinding_host_is_refused_on_admin_and_local_routes_even_for_reads():
    with running() as server:
        port = server.server_address[1]
        for path in ("/admin/chats", "/_local/echo"):
            _edge_error(*request(server, "GET", path, headers={"Host": f"rebind.evil.example:{port}"}),
                        403, "foreign_host")
        _edge_error(*request(server, "POST", "/_local/invoke/Admin", body=b"{}",
                             headers={"Origin": "https://evil.example"}), 403, "cross_site")
        assert server.functions.calls == []
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "app.localhost"):
            assert request(server, "GET", "/admin/chats", headers={"Host": host})[0] == 200, host


def test_webhook_routes_stay_open_to_any_origin_host_and_content_type():
    with running() as server:
        status, _, body = request(server, "POST", "/webhooks/incoming/twilio", body=b"From=%2B1&Body=Hi",
                                  headers={"Content-Type": "application/x-www-form-urlencoded",
                                           "Origin": "https://provider.example", "Host": "hooks.example.com"})
        assert status == 200 and json.loads(body)["function"] == "Ingest"
        status, _, _ = request(server, "POST", "/_local/echo/send", body=b"text",
                               headers={"Content-Type": "text/plain"})
        assert status == 200  # the echo endpoint stands in for third parties: it takes what they take


def test_curl_style_requests_and_the_cli_pass_the_guard():
    with running() as server:
        # curl sends no Origin; a body-less POST or DELETE needs no content type
        assert request(server, "POST", "/admin/deliveries/redrive")[0] == 200
        assert request(server, "DELETE", "/admin/incoming-webhooks/shop")[0] == 200
        client = ChatbridgeClient(server.url)
        client.put_secret("/chatbridge/shop/token", "s3cret")
        client.reply(7, "On its way")
        client.redrive_deliveries()
        assert [(event["httpMethod"], event["path"]) for _, event in server.functions.calls[2:]] == [
            ("PUT", "/admin/secrets/chatbridge/shop/token"), ("POST", "/admin/chats/7/messages"),
            ("POST", "/admin/deliveries/redrive")]
