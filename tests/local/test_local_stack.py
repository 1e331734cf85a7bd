"""The local stack on a fixture template: real worker processes, moto, HTTP, pollers, saved state."""

import json
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request

import pytest

from chatbridge.local.stack import LocalStack, StackOptions
from support.paths import FIXTURES

FIXTURE = FIXTURES / "local_stack" / "template.yaml"


@pytest.fixture(scope="module")
def stack():
    with LocalStack(StackOptions(FIXTURE, port=0)) as running:
        yield running


def _request(stack, method, path, body=None, headers=None):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(stack.url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _item(stack, pk, sk):
    return stack.client("dynamodb").get_item(TableName="chatbridge-local-items",
                                             Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")


def _eventually(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout:.0f} s")


def test_route_calls_the_real_handler_with_an_api_gateway_event(stack):
    status, headers, body = _request(stack, "GET", "/things/t-1?tag=a&tag=b", headers={"X-Test": "yes"})
    assert status == 200
    assert headers["X-Fixture"] == "api"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    answer = json.loads(body)
    assert answer["event"]["pathParameters"] == {"id": "t-1"}
    assert answer["event"]["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert answer["event"]["headers"]["X-Test"] == "yes"
    assert answer["function_name"] == "chatbridge-local-ApiFunction"
    assert 0 < answer["remaining_ms"] <= 10_000
    assert answer["stage"] == "test"


def test_binary_request_and_response_round_trip(stack):
    status, headers, body = _request(stack, "PUT", "/files/a/b.bin", body=b"\x00\xff",
                                     headers={"Content-Type": "application/octet-stream"})
    assert status == 201
    assert body == b"\x00\xffstored"


def test_handler_exception_is_a_502_like_api_gateway(stack):
    status, _, body = _request(stack, "GET", "/things/boom")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}


def test_unknown_route_is_a_404_naming_the_route(stack):
    status, _, body = _request(stack, "GET", "/nowhere")
    assert status == 404
    assert "GET /nowhere" in json.loads(body)["message"]


def test_write_flows_through_stream_filter_and_queue_to_the_next_function(stack):
    status, _, _ = _request(stack, "POST", "/things/flow-1", body={"job": "hello"})
    assert status == 200
    job = _eventually(lambda: _item(stack, "flow-1", "job"))
    assert job["receive_count"] == {"S": "1"}


def test_stream_record_reported_failed_is_redelivered_once_and_then_succeeds(stack):
    _request(stack, "POST", "/things/flaky-1", body={"fail": "once"})
    _eventually(lambda: _item(stack, "flaky-1", "job"))
    assert _item(stack, "flaky-1", "stream-attempts")["attempts"] == {"N": "2"}


def test_stream_record_that_always_fails_is_dropped_after_maximum_retry_attempts(stack):
    _request(stack, "POST", "/things/broken-1", body={"fail": "always"})
    _request(stack, "POST", "/things/after-broken", body={"job": "after"})
    _eventually(lambda: (_item(stack, "broken-1", "stream-attempts") or {}).get("attempts") == {"N": "4"})  # 1 + 3
    _eventually(lambda: _item(stack, "after-broken", "job"))
    _request(stack, "POST", "/things/later-1", body={"job": "later"})
    _eventually(lambda: _item(stack, "later-1", "job"))  # the stream moved on
    assert _item(stack, "broken-1", "stream-attempts")["attempts"] == {"N": "4"}
    assert _item(stack, "broken-1", "job") is None


def test_queue_message_that_always_fails_lands_in_the_dead_letter_queue(stack):
    _request(stack, "POST", "/things/poison-1", body={"job": "poison"})
    dlq = stack.resources["JobsDeadLetterQueue"]["QueueUrl"]
    sqs = stack.client("sqs")
    message = _eventually(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"))
    assert json.loads(message[0]["Body"]) == {"pk": "poison-1", "job": "poison"}


def test_echo_endpoint_records_what_it_receives(stack):
    status, _, _ = _request(stack, "POST", "/_local/echo/sendText", body={"chatId": "1@c.us", "body": "hé"},
                            headers={"Content-Type": "application/json"})
    assert status == 200
    _, _, body = _request(stack, "GET", "/_local/echo")
    last = json.loads(body)["received"][-1]
    assert last["path"] == "/_local/echo/sendText"
    assert last["json"] == {"chatId": "1@c.us", "body": "hé"}


def test_data_dir_keeps_items_messages_and_parameters_across_restarts(tmp_path):
    options = StackOptions(FIXTURE, port=0, data_dir=tmp_path, stack_name="chatbridge-data")
    with LocalStack(options) as first:
        first.client("dynamodb").put_item(TableName="chatbridge-data-items", Item={
            "pk": {"S": "kept"}, "sk": {"S": "x"}, "blob": {"B": b"\x00\x01"}, "n": {"N": "5"}})
        first.client("sqs").send_message(QueueUrl=first.resources["JobsDeadLetterQueue"]["QueueUrl"],
                                         MessageBody="parked")
        first.client("ssm").put_parameter(Name="/chatbridge/secret", Value="s3cret", Type="SecureString")
    with LocalStack(options) as second:
        item = second.client("dynamodb").get_item(TableName="chatbridge-data-items",
                                                  Key={"pk": {"S": "kept"}, "sk": {"S": "x"}})["Item"]
        assert item["blob"] == {"B": b"\x00\x01"} and item["n"] == {"N": "5"}
        messages = second.client("sqs").receive_message(
            QueueUrl=second.resources["JobsDeadLetterQueue"]["QueueUrl"])["Messages"]
        assert [m["Body"] for m in messages] == ["parked"]
        parameter = second.client("ssm").get_parameter(Name="/chatbridge/secret", WithDecryption=True)
        assert parameter["Parameter"]["Value"] == "s3cret"


def test_data_dir_in_the_earlier_format_is_imported_once(tmp_path):
    (tmp_path / "chatbridge-local-state.json").write_text(json.dumps({"version": 1, "tables": {"ItemsTable": [
        {"pk": {"S": "old"}, "sk": {"S": "x"}}]}, "queues": {}, "parameters": []}))
    options = StackOptions(FIXTURE, port=0, data_dir=tmp_path, stack_name="chatbridge-legacy")
    with LocalStack(options) as first:
        assert _item_in(first, "chatbridge-legacy-items", "old")
    assert not (tmp_path / "chatbridge-local-state.json").exists()
    with LocalStack(options) as second:
        assert _item_in(second, "chatbridge-legacy-items", "old")


def test_a_data_dir_in_use_is_refused_with_the_reason(tmp_path):
    from chatbridge.local.store import StoreError

    with LocalStack(StackOptions(FIXTURE, port=0, data_dir=tmp_path, stack_name="chatbridge-busy")):
        second = LocalStack(StackOptions(FIXTURE, port=0, data_dir=tmp_path, stack_name="chatbridge-busy2"))
        try:
            with pytest.raises(StoreError, match="in use by another"):
                second.start()
        finally:
            second.stop()


def _item_in(stack, table, pk):
    return stack.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "x"}}).get("Item")


def test_chunked_request_bodies_reach_the_handler(stack):
    import http.client

    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("POST", "/things/chunked-1", body=iter([b'{"job": ', b'"chunked"}']),
                       headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 200
    assert json.loads(json.loads(response.read())["event"]["body"]) == {"job": "chunked"}


def test_oversized_request_is_refused_before_the_handler(stack):
    import http.client

    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/things/huge")
    connection.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    connection.endheaders()
    assert connection.getresponse().status == 413


def test_any_function_can_be_invoked_directly_with_an_event(stack):
    event = {"Records": [{"messageId": "m1", "body": json.dumps({"pk": "direct-1", "job": "x"}),
                          "attributes": {"ApproximateReceiveCount": "1"}}]}
    status, _, body = _request(stack, "POST", "/_local/invoke/QueueFunction", body=event)
    assert status == 200 and json.loads(body) == {"batchItemFailures": []}
    assert _item(stack, "direct-1", "job")
    status, _, body = _request(stack, "POST", "/_local/invoke/NoSuchFunction", body={})
    assert status == 404
    status, _, body = _request(stack, "POST", "/_local/invoke/QueueFunction", body={"Records": "bad"})
    assert status == 200 and json.loads(body)["errorType"] == "TypeError"


def test_invocation_past_the_function_timeout_is_killed_and_answers_504(stack):
    started = time.monotonic()
    status, _, body = _request(stack, "GET", "/slow")
    assert status == 504
    assert json.loads(body) == {"message": "Endpoint request timed out"}
    assert time.monotonic() - started < 4  # Timeout 1 s (+1 s grace), not the handler's 5 s sleep


def test_template_parameters_and_buckets_exist_for_the_handlers(stack):
    parameter = stack.client("ssm").get_parameter(Name="/chatbridge-local/settings")["Parameter"]
    assert json.loads(parameter["Value"]) == {"greeting": "hi"}
    stack.client("s3").put_object(Bucket="chatbridge-local-uploadsbucket", Key="k", Body=b"v")


def test_outbound_allow_list_keeps_template_and_user_entries_and_adds_the_local_host(stack, monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "10.0.0.0/8")
    environment = stack.function_environment({"CHATBRIDGE_OUTBOUND_ALLOW": "hooks.internal", "OTHER": "x"})
    assert environment["CHATBRIDGE_OUTBOUND_ALLOW"] == "hooks.internal,10.0.0.0/8,127.0.0.1"
    assert environment["OTHER"] == "x"
    assert environment["AWS_ENDPOINT_URL"] == stack.functions_endpoint_url != stack.endpoint_url
    assert environment["AWS_ACCESS_KEY_ID"] == "local"


class _Lines(logging.Handler):
    """The stack's log lines, as the terminal would print them."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_request_line_masks_secret_query_parameters_and_keeps_the_rest(stack):
    lines = _Lines()
    logger = logging.getLogger("chatbridge.local")
    logger.addHandler(lines)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        status, _, _ = _request(stack, "GET", "/things/t-1?secret=s3cr3t-9981&api_key=k-4410&tag=a")
        assert status == 200
        _request(stack, "POST", "/_local/echo/send?token=tok-7712&to=1", body={"x": 1})
    finally:
        logger.removeHandler(lines)
        logger.setLevel(previous)
    text = "\n".join(lines.lines)
    assert "s3cr3t-9981" not in text and "k-4410" not in text and "tok-7712" not in text
    assert "GET /things/t-1?secret=***&api_key=***&tag=a -> 200" in text
    assert "/_local/echo/send?token=***&to=1" in text


def _thing(stack, table, pk):
    return stack.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "thing"}}).get("Item")


class _HeldCommits:
    """The store's SQLite connection with its commits held back (``release``) or failing (``fail``)."""

    def __init__(self, connection, *, fail=False):
        self._connection, self._fail = connection, fail
        self.release = threading.Event()

    def execute(self, statement, *args):
        if statement == "COMMIT":
            if self._fail:
                raise sqlite3.OperationalError("disk I/O error")
            self.release.wait(60)
        return self._connection.execute(statement, *args)

    def __getattr__(self, name):
        return getattr(self._connection, name)


def test_an_invocation_is_answered_only_once_its_writes_are_on_disk(tmp_path):
    """The function's own DynamoDB write is answered before it is on disk (the function runs on), but the
    webhook's 200 waits until the commit: what a caller was told is saved survives a kill."""
    options = StackOptions(FIXTURE, port=0, data_dir=tmp_path, stack_name="chatbridge-held")
    with LocalStack(options) as running:
        held = running.store._db = _HeldCommits(running.store._db)
        answers = []
        poster = threading.Thread(target=lambda: answers.append(
            _request(running, "POST", "/things/held", {"job": "held"})))
        poster.start()
        try:
            assert _eventually(lambda: _thing(running, "chatbridge-held-items", "held"))
            api = running.runtimes["ApiFunction"]
            _eventually(lambda: api._idle)  # the invocation is over: its worker is free again
            assert poster.is_alive() and not answers
        finally:
            held.release.set()
        poster.join(30)
        assert answers[0][0] == 200
    with LocalStack(options) as again:
        assert _thing(again, "chatbridge-held-items", "held")["job"] == {"S": "held"}


def test_a_write_the_data_folder_cannot_take_is_answered_503_and_not_acknowledged(tmp_path):
    options = StackOptions(FIXTURE, port=0, data_dir=tmp_path, stack_name="chatbridge-full")
    with LocalStack(options) as running:
        running.store._db = _HeldCommits(running.store._db, fail=True)
        status, headers, body = _request(running, "POST", "/things/lost", {"job": "lost"})
        assert status == 503 and headers["Retry-After"]
        answer = json.loads(body)
        assert answer["code"] == "store_failed"
        assert "disk I/O error" in answer["message"] and "nothing was acknowledged" in answer["message"]
