"""Acceptance: operator reply -> stream -> evaluator -> SQS -> dispatcher -> a real local HTTP server."""

from __future__ import annotations

import json

import boto3
import pytest
from werkzeug import Request, Response

from chatbridge.local.seed import seed_document
from chatbridge.reply.rest_api import RestApi
from chatbridge.reply.webhooks import OutgoingWebhook
from chatbridge.repository import deliveries, outgoing
from chatbridge.repository import reply_storage as storage
from support.pipeline import Pipeline
from support.reply import create_chat, messages_of

HOSTILE = 'She said "no"\nthen: \\ 😀 </script><script>alert(1)</script> {{msg}} ü'


def openwa(url: str) -> tuple[RestApi, OutgoingWebhook]:
    document = seed_document(url)
    rest_api = RestApi.model_validate(document["rest_apis"][0])
    webhook = OutgoingWebhook.model_validate(document["webhooks"][0])
    outgoing.put_rest_api(rest_api)
    outgoing.put_webhook(webhook)
    return rest_api, webhook


@pytest.fixture
def third_party(httpserver):
    received: list[dict] = []

    def record(request: Request) -> Response:
        received.append({"path": request.path, "json": request.get_json(silent=True), "headers": dict(request.headers)})
        return Response(json.dumps({"sent": True}), status=200, content_type="application/json")

    httpserver.expect_request("/sendText", method="POST").respond_with_handler(record)
    httpserver.received = received
    return httpserver


def test_operator_reply_reaches_the_third_party_with_the_openwa_body(reply_aws, third_party):
    openwa(third_party.url_for(""))
    chat_id = create_chat(external_id="447700900000@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    message = storage.add_operator_message(chat_id, "Your order ships today [file=https://files.example/label.pdf]", 3)
    pipeline.pump()
    assert third_party.received == [{"path": "/sendText", "headers": third_party.received[0]["headers"], "json": {
        "chatId": "447700900000@c.us", "body": "Your order ships today https://files.example/label.pdf"}}]
    assert messages_of(chat_id)[-1]["delivery"] == "sent"
    [delivery] = deliveries.list_for_chat(chat_id)
    assert (delivery.status, delivery.status_code, delivery.attempts, delivery.message_id) == ("sent", 200, 1, message["id"])
    assert delivery.request["url"].endswith("/sendText") and '"sent": true' in delivery.response_excerpt
    assert storage.get_chat(chat_id)["status"] == "active"


def test_non_matching_conditions_send_nothing(reply_aws, third_party):
    openwa(third_party.url_for(""))
    chat_id = create_chat(external_id="1@c.us", identifier="telegram-bot")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "hello", 3)
    pipeline.pump()
    assert third_party.received == [] and deliveries.list_for_chat(chat_id) == []
    assert messages_of(chat_id)[-1]["delivery"] is None


def test_visitor_messages_do_not_fire_operator_rules(reply_aws, third_party):
    openwa(third_party.url_for(""))
    chat_id = create_chat(external_id="1@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage._append_message(chat_id, msg="visitor says hi", user_id=0)
    pipeline.pump()
    assert third_party.received == []


def test_server_error_then_success_is_retried_and_received_once(reply_aws, httpserver):
    answers = iter([Response("busy", status=500), Response("ok", status=200)])
    bodies: list[dict] = []

    def flaky(request: Request) -> Response:
        bodies.append(request.get_json())
        return next(answers)

    httpserver.expect_request("/sendText").respond_with_handler(flaky)
    openwa(httpserver.url_for(""))
    chat_id = create_chat(external_id="9@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "second time lucky", 3)
    pipeline.pump()
    assert [body["body"] for body in bodies] == ["second time lucky", "second time lucky"]
    [delivery] = deliveries.list_for_chat(chat_id)
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("sent", 2, 200)
    assert messages_of(chat_id)[-1]["delivery"] == "sent"
    # a replayed job (SQS at-least-once) is not sent again
    job_body = {"job_id": delivery.id, "event": delivery.event, "chat_id": chat_id, "message_id": delivery.message_id,
                "webhook_id": delivery.webhook_id, "rest_api_id": delivery.rest_api_id, "args": {"chat": {}}}
    boto3.client("sqs").send_message(QueueUrl=reply_aws["queue_url"], MessageBody=json.dumps(job_body))
    pipeline.pump()
    assert len(bodies) == 2


def test_permanently_failing_third_party_ends_in_the_dlq_and_shows_failed(reply_aws, httpserver, monkeypatch):
    monkeypatch.setenv("MAX_ATTEMPTS", "3")
    httpserver.expect_request("/sendText").respond_with_data("down", status=503)
    openwa(httpserver.url_for(""))
    chat_id = create_chat(external_id="5@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "are you there?", 3)
    pipeline.pump()
    assert len(httpserver.log) == 3
    [delivery] = deliveries.list_for_chat(chat_id)
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("failed", 3, 503)
    assert "gave up after 3 attempts" in delivery.error
    assert messages_of(chat_id)[-1]["delivery"] == "failed"
    dead = boto3.client("sqs").receive_message(QueueUrl=reply_aws["dlq_url"], MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["job_id"] for m in dead] == [delivery.id]


def test_client_error_is_not_retried_and_redrive_sends_it_again(reply_aws, httpserver):
    from chatbridge.repository import queue

    answers = iter([Response("bad token", status=401), Response("ok", status=200)])
    httpserver.expect_request("/sendText").respond_with_handler(lambda request: next(answers))
    openwa(httpserver.url_for(""))
    chat_id = create_chat(external_id="5@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "hi", 3)
    pipeline.pump()
    [delivery] = deliveries.list_for_chat(chat_id)
    assert (delivery.status, delivery.attempts, delivery.response_excerpt) == ("failed", 1, "bad token")
    assert queue.redrive() == 1
    pipeline.pump()
    [delivery] = deliveries.list_for_chat(chat_id)
    assert (delivery.status, delivery.attempts) == ("sent", 2) and len(httpserver.log) == 2


def test_quotes_newlines_emoji_and_script_tags_arrive_intact(reply_aws, third_party):
    openwa(third_party.url_for(""))
    chat_id = create_chat(external_id="447700900000@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, HOSTILE, 3)
    pipeline.pump()
    assert third_party.received[0]["json"]["body"] == HOSTILE


def test_batch_with_one_poisoned_record_reports_only_that_record(reply_aws, third_party):
    openwa(third_party.url_for(""))
    chat_id = create_chat(external_id="1@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "first", 3)
    storage.add_operator_message(chat_id, "second", 3)
    records = pipeline.stream_records()
    message_records = [r for r in records if r["dynamodb"]["NewImage"]["type"]["S"] == "message"
                       and r["eventName"] == "INSERT"]
    assert len(message_records) == 2
    poisoned = json.loads(json.dumps(message_records[0]))
    poisoned["eventID"] = "poisoned"
    poisoned["dynamodb"]["NewImage"]["chat_id"] = {"N": "999999"}   # a chat that does not exist
    result = pipeline.evaluate([poisoned, message_records[1]])
    assert result == {"batchItemFailures": [{"itemIdentifier": poisoned["dynamodb"]["SequenceNumber"]}]}
    pipeline.pump()
    assert [r["json"]["body"] for r in third_party.received] == ["second"]


def test_dispatcher_batch_with_one_unreadable_job_reports_only_that_job(reply_aws, third_party):
    openwa(third_party.url_for(""))
    chat_id = create_chat(external_id="1@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "fine", 3)
    pipeline.evaluate(pipeline.stream_records())
    boto3.client("sqs").send_message(QueueUrl=reply_aws["queue_url"], MessageBody="{not json")
    records = pipeline.receive()
    assert len(records) == 2
    result = pipeline.dispatch(records, fast_forward=False)
    bad = next(r["messageId"] for r in records if r["body"] == "{not json")
    assert result == {"batchItemFailures": [{"itemIdentifier": bad}]}
    assert [r["json"]["body"] for r in third_party.received] == ["fine"]


def test_header_secret_comes_from_ssm_and_is_masked_in_the_delivery(reply_aws, third_party):
    boto3.client("ssm").put_parameter(Name="/chatbridge/openwa/key", Value="s3cret", Type="SecureString")
    rest_api, _ = openwa(third_party.url_for(""))
    outgoing.put_rest_api(rest_api.model_copy(update={"headers": {**rest_api.headers,
                                                                  "X-Api-Key": "{{ssm:/chatbridge/openwa/key}}"}}))
    chat_id = create_chat(external_id="1@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "secret hello", 3)
    pipeline.pump()
    assert third_party.received[0]["headers"]["X-Api-Key"] == "s3cret"
    [delivery] = deliveries.list_for_chat(chat_id)
    assert delivery.request["headers"]["X-Api-Key"] == "***" and "s3cret" not in json.dumps(delivery.model_dump())


def test_loopback_third_party_is_refused_without_the_allow_list(reply_aws, third_party, monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "")
    openwa(third_party.url_for(""))
    chat_id = create_chat(external_id="1@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "hi", 3)
    pipeline.pump()
    assert third_party.received == []
    [delivery] = deliveries.list_for_chat(chat_id)
    assert delivery.status == "failed" and "internal address" in delivery.error


def test_response_saved_as_system_message_when_asked(reply_aws, third_party):
    rest_api, _ = openwa(third_party.url_for(""))
    outgoing.put_rest_api(rest_api.model_copy(update={"save_response_as_message": True}))
    chat_id = create_chat(external_id="1@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "hi", 3)
    pipeline.pump()
    last = messages_of(chat_id)[-1]
    assert (last["user_id"], last["msg"]) == (-1, '{"sent": true}')
    assert len(third_party.received) == 1   # the system message fires no rule


def test_chat_close_event_fires_close_rules(reply_aws, third_party):
    rest_api, _ = openwa(third_party.url_for(""))
    outgoing.put_webhook(OutgoingWebhook(id="closed", event="chat.close", rest_api_id=rest_api.id,
                                         conditions=["{args.chat.incoming_chat.incoming.scope} = whatsapp"]))
    outgoing.put_rest_api(rest_api.model_copy(update={"body": '{"chatId": {{chat_id_template}}, "body": "closed"}'}))
    chat_id = create_chat(external_id="77", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.chat_table().update_item(Key=storage._chat_key(chat_id), UpdateExpression="SET #s = :c",
                                     ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":c": "closed"})
    pipeline.pump()
    assert [r["json"] for r in third_party.received] == [{"chatId": "77@c.us", "body": "closed"}]


def test_a_job_claimed_by_another_dispatcher_is_not_sent_again(reply_aws, httpserver):
    """The claim is one conditional write (atomic on DynamoDB; moto does not serialise threads, so the
    overlap is staged: a lease held by another dispatcher, then the finished job handed out again)."""
    from chatbridge.reply.dispatch import DispatchJob
    from chatbridge.reply.pipeline import deliver

    httpserver.expect_request("/sendText").respond_with_data("ok")
    openwa(httpserver.url_for(""))
    chat_id = create_chat(external_id="2@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "only once", 3)
    pipeline.evaluate(pipeline.stream_records())
    [record] = pipeline.receive()
    job = DispatchJob.model_validate_json(record["body"])
    assert deliveries.claim(job, lease_seconds=120) == "claimed"          # another dispatcher is sending it
    busy = deliver(job, storage.reply_storage(), attempt=1, max_attempts=3)
    assert (busy.outcome, busy.reason) == ("retry", "another attempt is in progress") and len(httpserver.log) == 0
    deliveries.record_attempt(job, status="retrying", status_code=None, response_excerpt="", error="crashed",
                              request={}, duration_ms=0)                   # its lease ends
    assert deliver(job, storage.reply_storage(), attempt=2, max_attempts=3).outcome == "sent"
    again = deliver(job, storage.reply_storage(), attempt=3, max_attempts=3)
    assert again.reason == "already sent (duplicate job)" and len(httpserver.log) == 1
