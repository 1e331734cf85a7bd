"""The reply path under faults: a real third party that stalls, resets, rate-limits and fails, and a
pipeline whose storage or queue fails for one record of a batch.

Operator reply -> stream -> evaluator -> SQS -> dispatcher -> a real loopback server (pytest-httpserver, or
``ScriptedServer``, a raw socket server that misbehaves at the TCP level). AWS faults are injected into the
repository's real clients (``tests/faults.py``). Every test counts: requests the third party accepted (one
per reply), delivery records and their state, the message's ``delivery``, and the dead-letter queue (empty
unless the failure is permanent).
"""

from __future__ import annotations

import email.utils
import json
import socket
import struct
import threading
import time

import boto3
import pytest
from werkzeug import Request, Response

from chatbridge.local.seed import seed_document
from chatbridge.reply.rest_api import RestApi
from chatbridge.reply.webhooks import OutgoingWebhook
from chatbridge.repository import deliveries, outgoing, queue
from chatbridge.repository import reply_storage as storage
from support.aws import api_event, call
from support.faults import Faults
from support.pipeline import Pipeline, load_handler
from support.reply import create_chat, messages_of

# -- a third party that misbehaves at the TCP level -------------------------------------------------

class ScriptedServer:
    """A loopback HTTP server whose n-th connection does what the script says, then answers 200.

    ``stall``: read the request, never answer (the client times out); ``reset``: read it, then RST;
    ``close``: read it, close without a word; ``garbage``: answer something that is not HTTP; ``ok``: 200.
    Only requests answered 200 count as received: the others never reached the third party's logic.
    """

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)
        self.received: list[dict] = []
        self.behaviours: list[str] = []
        self._stop = threading.Event()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            behaviour = self.script.pop(0) if self.script else "ok"
            self.behaviours.append(behaviour)
            threading.Thread(target=self._handle, args=(connection, behaviour), daemon=True).start()

    def _handle(self, connection: socket.socket, behaviour: str) -> None:
        with connection:
            connection.settimeout(5)
            request = _read_request(connection)
            if behaviour == "stall":
                self._stop.wait(10)
            elif behaviour == "reset":
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif behaviour == "garbage":
                connection.sendall(b"SURPRISE\x00\xff not http at all\r\n\r\n")
            elif behaviour == "ok":
                self.received.append(request)
                body = b'{"sent": true}'
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                   + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)


def _read_request(connection: socket.socket) -> dict:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return {}
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(headers.get("Content-Length", "0"))
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return {"request_line": lines[0], "headers": headers, "json": json.loads(body) if body else None}


@pytest.fixture
def scripted():
    servers: list[ScriptedServer] = []

    def start(*script: str) -> ScriptedServer:
        servers.append(ScriptedServer(list(script)))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


# -- the pipeline -----------------------------------------------------------------------------------

def openwa(url: str, **changes) -> RestApi:
    document = seed_document(url)
    rest_api = RestApi.model_validate({**document["rest_apis"][0], **changes})
    outgoing.put_rest_api(rest_api)
    outgoing.put_webhook(OutgoingWebhook.model_validate(document["webhooks"][0]))
    return rest_api


@pytest.fixture
def reply(reply_aws, monkeypatch):
    monkeypatch.setenv("MAX_ATTEMPTS", "4")
    chat_id = create_chat(external_id="447700900000@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    sqs_faults = Faults(queue._sqs())
    yield {"chat_id": chat_id, "pipeline": pipeline, "sqs": sqs_faults, **reply_aws}
    sqs_faults.detach()


def dead_letters(reply) -> list[dict]:
    answer = boto3.client("sqs").receive_message(QueueUrl=reply["dlq_url"], MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


def delays(reply) -> list[int]:
    """The retry delays the dispatcher asked SQS for (ChangeMessageVisibility on the real client)."""
    return [body["VisibilityTimeout"] for body in reply["sqs"].sent("ChangeMessageVisibility")]


def send_reply(reply, text: str) -> dict:
    return storage.add_operator_message(reply["chat_id"], text, 3)


def assert_sent_once(reply, *, attempts: int, received: list) -> None:
    [delivery] = deliveries.list_for_chat(reply["chat_id"])
    assert (delivery.status, delivery.attempts, delivery.status_code, delivery.error) == ("sent", attempts, 200, None)
    assert messages_of(reply["chat_id"])[-1]["delivery"] == "sent"
    assert len(received) == 1
    assert dead_letters(reply) == []


# -- the third party misbehaves ----------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["stall", "reset", "close", "garbage"])
def test_a_network_fault_is_retried_with_backoff_and_the_reply_arrives_once(reply, scripted, fault):
    server = scripted(fault)
    openwa(server.url, timeout=0.5)
    send_reply(reply, "are you there?")
    reply["pipeline"].pump()
    assert [r["json"]["body"] for r in server.received] == ["are you there?"]
    assert server.behaviours == [fault, "ok"]
    assert delays(reply) == [5]  # attempt 1 failed: the first backoff step
    assert_sent_once(reply, attempts=2, received=server.received)


def test_a_third_party_down_at_every_attempt_ends_in_the_dlq_after_max_attempts(reply, scripted):
    server = scripted(*["reset"] * 10)
    openwa(server.url, timeout=0.5)
    send_reply(reply, "hello?")
    reply["pipeline"].pump()
    assert server.received == [] and server.behaviours == ["reset"] * 4
    [delivery] = deliveries.list_for_chat(reply["chat_id"])
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert "gave up after 4 attempts" in delivery.error and "network error" in delivery.error
    assert messages_of(reply["chat_id"])[-1]["delivery"] == "failed"
    assert [job["job_id"] for job in dead_letters(reply)] == [delivery.id]
    assert delays(reply) == [5, 10, 20]


def flaky(httpserver, answers: list[Response]) -> list[dict]:
    """Answer from ``answers`` in turn, then 200; returns the requests that were answered 2xx."""
    accepted: list[dict] = []
    pending = list(answers)

    def handler(request: Request) -> Response:
        answer = pending.pop(0) if pending else Response('{"sent": true}', status=200)
        if answer.status_code < 300:
            accepted.append(request.get_json())
        return answer

    httpserver.expect_request("/sendText", method="POST").respond_with_handler(handler)
    return accepted


def http_date(seconds_from_now: int) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize("retry_after,delay", [("7", 7), ("0", 0), ("99999", 900), (None, 5), ("soon", 5),
                                                ("date+120", 120), ("\u00b2", 5), ("-3", 5), ("9" * 400, 900)])
def test_429_is_retried_after_the_retry_after_the_third_party_asked_for(reply, httpserver, retry_after, delay):
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = http_date(120) if retry_after == "date+120" else retry_after
    accepted = flaky(httpserver, [Response("slow down", status=429, headers=headers)])
    openwa(httpserver.url_for(""))
    send_reply(reply, "rate me")
    reply["pipeline"].pump()
    [asked] = delays(reply)
    assert asked == delay or (retry_after == "date+120" and delay - 2 <= asked <= delay)
    assert [body["body"] for body in accepted] == ["rate me"] and len(httpserver.log) == 2
    assert_sent_once(reply, attempts=2, received=accepted)


def test_a_503_with_retry_after_is_retried_when_the_third_party_says(reply, httpserver):
    accepted = flaky(httpserver, [Response("maintenance", status=503, headers={"Retry-After": "42"})])
    openwa(httpserver.url_for(""))
    send_reply(reply, "after maintenance")
    reply["pipeline"].pump()
    assert delays(reply) == [42]
    assert_sent_once(reply, attempts=2, received=accepted)


@pytest.mark.parametrize("statuses", [[500], [502, 503], [504, 500, 503]])
def test_server_errors_then_success_send_the_reply_once(reply, httpserver, statuses):
    accepted = flaky(httpserver, [Response("oops", status=status) for status in statuses])
    openwa(httpserver.url_for(""))
    send_reply(reply, "persistence")
    reply["pipeline"].pump()
    assert [entry[1].status_code for entry in httpserver.log] == statuses + [200]
    assert delays(reply) == [5, 10, 20][:len(statuses)]
    assert_sent_once(reply, attempts=len(statuses) + 1, received=accepted)


def test_a_refusal_is_permanent_the_job_goes_to_the_dlq_at_once(reply, httpserver):
    accepted = flaky(httpserver, [Response("bad request", status=400)])
    openwa(httpserver.url_for(""))
    send_reply(reply, "malformed?")
    reply["pipeline"].pump()
    assert accepted == [] and len(httpserver.log) == 1 and delays(reply) == []
    [delivery] = deliveries.list_for_chat(reply["chat_id"])
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("failed", 1, 400)
    assert [job["job_id"] for job in dead_letters(reply)] == [delivery.id]


@pytest.mark.parametrize("base, reason", [("http://127.0.0.1:99999", "Port out of range"),
                                          ("http://127.0.0.1:0", "port 0")])
def test_a_stored_rest_api_url_that_can_never_be_called_fails_the_job_at_once_and_dead_letters_it(reply, base,
                                                                                                  reason):
    """A URL no retry can make callable (stored before the REST API's save checks refused such ports): the job
    fails at once and is not retried."""
    rest_api = openwa("https://wa.example.com")
    outgoing.put_rest_api(rest_api.model_copy(update={"url": f"{base}/sendText"}))
    send_reply(reply, "nowhere to go")
    reply["pipeline"].pump()
    [delivery] = deliveries.list_for_chat(reply["chat_id"])
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("failed", 1, None)
    assert "no longer passes its checks" in delivery.error and reason in delivery.error and "save it again" in delivery.error
    assert messages_of(reply["chat_id"])[-1]["delivery"] == "failed"
    assert [job["job_id"] for job in dead_letters(reply)] == [delivery.id]
    assert delays(reply) == [] and all(not r.get("batchItemFailures") for r in reply["pipeline"].dispatcher_results)


def test_a_stored_rule_that_fails_todays_checks_is_skipped_and_the_others_still_fire(reply, httpserver):
    received = third_party(httpserver)
    openwa(httpserver.url_for(""))
    outgoing._put(outgoing.WEBHOOK, "stale-rule", {"id": "stale-rule", "event": "chat.web_add_msg_admin",
                                                    "rest_api_id": "openwa-send", "enabled": True,
                                                    "conditions": ["args.chat.id = 1"]})  # no braces: refused today
    send_reply(reply, "still delivered")
    reply["pipeline"].pump()
    assert [body["body"] for body in received] == ["still delivered"]
    assert all(not r.get("batchItemFailures") for r in reply["pipeline"].evaluator_results)


def redrive() -> dict:
    """``chatbridge deliveries redrive``: the admin function's POST /admin/deliveries/redrive."""
    status, body = call(load_handler("admin"), api_event("POST", "/admin/deliveries/redrive"))
    assert status == 200, body
    return body


def test_a_reply_that_failed_for_good_and_went_through_after_redrive_marks_its_message_sent(reply, httpserver):
    accepted = flaky(httpserver, [Response("bad token", status=401)])
    openwa(httpserver.url_for(""))
    send_reply(reply, "second time lucky")
    reply["pipeline"].pump()
    assert messages_of(reply["chat_id"])[-1]["delivery"] == "failed" and accepted == []
    assert redrive() == {"redriven": 1, "remaining": False}
    reply["pipeline"].pump()
    assert_sent_once(reply, attempts=2, received=accepted)


def test_a_message_with_two_webhooks_stays_failed_until_every_failed_one_has_gone_through(reply, httpserver):
    """``failed`` still is not hidden by another webhook's success, only lifted once none is failed."""
    answers = {"/sendText": [Response("bad token", status=401)],
               "/other": [Response("bad token", status=401), Response("still bad", status=401)]}
    accepted: list[str] = []

    def handler(request: Request) -> Response:
        pending = answers[request.path]
        answer = pending.pop(0) if pending else Response('{"sent": true}', status=200)
        if answer.status_code < 300:
            accepted.append(request.path)
        return answer

    for path in answers:
        httpserver.expect_request(path, method="POST").respond_with_handler(handler)
    openwa(httpserver.url_for(""))
    document = seed_document(httpserver.url_for(""))
    outgoing.put_rest_api(RestApi.model_validate({**document["rest_apis"][0], "id": "other",
                                                  "url": httpserver.url_for("/other")}))
    outgoing.put_webhook(OutgoingWebhook.model_validate({**document["webhooks"][0], "id": "other",
                                                         "rest_api_id": "other"}))
    send_reply(reply, "to both")
    pipeline = reply["pipeline"]
    pipeline.pump()
    assert messages_of(reply["chat_id"])[-1]["delivery"] == "failed"
    assert redrive() == {"redriven": 2, "remaining": False}
    pipeline.pump()
    assert accepted == ["/sendText"]  # one went through, the other failed again: the message stays failed
    assert messages_of(reply["chat_id"])[-1]["delivery"] == "failed"
    assert redrive() == {"redriven": 1, "remaining": False}
    pipeline.pump()
    assert sorted(accepted) == ["/other", "/sendText"]
    assert sorted(d.status for d in deliveries.list_for_chat(reply["chat_id"])) == ["sent", "sent"]
    assert messages_of(reply["chat_id"])[-1]["delivery"] == "sent"


# -- the pipeline itself fails for one record --------------------------------------------------------

def third_party(httpserver) -> list[dict]:
    received: list[dict] = []

    def record(request: Request) -> Response:
        received.append(request.get_json())
        return Response('{"sent": true}', status=200)

    httpserver.expect_request("/sendText", method="POST").respond_with_handler(record)
    return received


def message_records(records: list[dict]) -> list[dict]:
    return [r for r in records if r["dynamodb"].get("NewImage", {}).get("type", {}).get("S") == "message"]


# The delivery record and the message's ``queued`` are one TransactWriteItems: each fault goes to that
# transaction, picked by the item it names (the record's message id, the message's key)
EVALUATOR_FAULTS = {
    "delivery record write": lambda: (deliveries.table().meta.client, "TransactWriteItems",
                                      'message_id": {"N": "2"}'),
    "message state write": lambda: (storage.chat_table().meta.client, "TransactWriteItems", "MSG#000000000002"),
    "enqueue": lambda: (queue._sqs(), "SendMessageBatch", "second reply"),
}


@pytest.mark.parametrize("where", list(EVALUATOR_FAULTS))
def test_an_evaluator_failure_for_one_record_reports_only_it_and_the_retry_duplicates_nothing(reply, httpserver,
                                                                                              where):
    received = third_party(httpserver)
    openwa(httpserver.url_for(""))
    for text in ("first reply", "second reply", "third reply"):
        send_reply(reply, text)
    pipeline = reply["pipeline"]
    records = pipeline.stream_records()
    client, operation, marker = EVALUATOR_FAULTS[where]()
    faults = Faults(client)
    faults.fail(operation, "ProvisionedThroughputExceededException", times=1,
                when=lambda body: marker in json.dumps(body))
    try:
        result = pipeline.evaluate(records)
    finally:
        faults.detach()
    failed = next(r for r in message_records(records) if r["dynamodb"]["NewImage"]["id"]["N"] == "2")
    assert result == {"batchItemFailures": [{"itemIdentifier": failed["dynamodb"]["SequenceNumber"]}]}
    assert len(faults.injected) == 1
    queued = {d.message_id for d in deliveries.list_for_chat(reply["chat_id"])}
    assert {1, 3} <= queued  # the rest of the batch was processed
    # Lambda re-delivers the shard from the failed record on: the records after it come again too
    pipeline.evaluate(records[records.index(failed):])
    pipeline.pump()
    assert sorted(body["body"] for body in received) == ["first reply", "second reply", "third reply"]
    found = deliveries.list_for_chat(reply["chat_id"])
    assert sorted((d.message_id, d.status, d.attempts) for d in found) == [(1, "sent", 1), (2, "sent", 1),
                                                                          (3, "sent", 1)]
    assert [m["delivery"] for m in messages_of(reply["chat_id"])] == ["sent", "sent", "sent"]
    assert dead_letters(reply) == []


def test_a_dispatcher_failure_for_one_job_reports_only_it_and_the_reply_is_sent_once(reply, httpserver):
    received = third_party(httpserver)
    openwa(httpserver.url_for(""))
    for text in ("one", "two", "three"):
        send_reply(reply, text)
    pipeline = reply["pipeline"]
    pipeline.evaluate(pipeline.stream_records())
    jobs = pipeline.receive()
    assert len(jobs) == 3
    faults = Faults(deliveries.table().meta.client)
    faults.fail("UpdateItem", "ThrottlingException", when=lambda body: 'message_id": {"N": "2"}' in json.dumps(body))
    try:
        result = pipeline.dispatch(jobs)
    finally:
        faults.detach()
    two = next(job for job in jobs if json.loads(job["body"])["message_id"] == 2)
    assert result == {"batchItemFailures": [{"itemIdentifier": two["messageId"]}]}
    assert sorted(body["body"] for body in received) == ["one", "three"]
    pipeline.pump()
    assert sorted(body["body"] for body in received) == ["one", "three", "two"]
    assert sorted((d.message_id, d.status) for d in deliveries.list_for_chat(reply["chat_id"])) == [
        (1, "sent"), (2, "sent"), (3, "sent")]
    assert dead_letters(reply) == []


def test_a_sent_reply_whose_message_state_was_not_saved_is_marked_sent_by_the_redelivered_job(reply, httpserver):
    """The send and its delivery record succeeded, the message's ``delivery`` write failed: the job comes
    back, is recognised as already sent (no second request), and the message still ends up ``sent``."""
    received = third_party(httpserver)
    openwa(httpserver.url_for(""))
    send_reply(reply, "state matters")
    pipeline = reply["pipeline"]
    pipeline.evaluate(pipeline.stream_records())
    faults = Faults(storage.chat_table().meta.client)  # the message's ``sent`` rides in the attempt's transaction
    faults.fail("TransactWriteItems", "ProvisionedThroughputExceededException",
                when=lambda body: '":state": {"S": "sent"}' in json.dumps(body))
    try:
        result = pipeline.dispatch(pipeline.receive())
    finally:
        faults.detach()
    assert len(result["batchItemFailures"]) == 1 and len(faults.injected) == 1
    pipeline.pump()
    assert_sent_once(reply, attempts=1, received=received)


def test_duplicate_jobs_on_the_queue_send_one_request(reply, httpserver):
    received = third_party(httpserver)
    openwa(httpserver.url_for(""))
    send_reply(reply, "once only")
    pipeline = reply["pipeline"]
    records = pipeline.stream_records()
    for _ in range(3):  # the same stream batch evaluated three times: three copies of each job on SQS
        pipeline.evaluate(records)
    pipeline.pump()
    assert_sent_once(reply, attempts=1, received=received)
