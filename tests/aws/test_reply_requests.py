"""What the reply path asks of DynamoDB and SQS: requests a warm function can know it does not need are not sent.

Counted on the repository's real client (``support.faults.Faults`` keeps every request it sees), after a
first record has warmed the evaluator's rule cache, as a warm Lambda has it.
"""

from __future__ import annotations

from chatbridge.local.seed import seed_document
from chatbridge.reply.rest_api import RestApi
from chatbridge.reply.webhooks import OutgoingWebhook
from chatbridge.repository import chats, deliveries, outgoing, tables
from chatbridge.repository import reply_storage as storage
from chatbridge.repository.values import CHAT_SNAPSHOT
from support.faults import Faults
from support.pipeline import Pipeline
from support.reply import create_chat, messages_of


def operator_rule_only(url: str) -> None:
    """The seed's open-wa webhook: it answers operator messages (chat.web_add_msg_admin) and nothing else."""
    document = seed_document(url)
    outgoing.put_rest_api(RestApi.model_validate(document["rest_apis"][0]))
    outgoing.put_webhook(OutgoingWebhook.model_validate(document["webhooks"][0]))


def test_a_visitor_message_no_rule_listens_to_costs_the_evaluator_no_chat_read(reply_aws):
    operator_rule_only("https://wa.example.com")
    chat_id = create_chat(external_id="447700900000@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "warms the rule cache", 3)
    pipeline.evaluate(pipeline.stream_records())
    storage._append_message(chat_id, msg="a visitor writes", user_id=0)
    records = pipeline.stream_records()
    faults = Faults(tables.client())
    try:
        assert pipeline.evaluate(records) == {"batchItemFailures": []}
    finally:
        faults.detach()
    assert [operation for operation, _ in faults.requests] == []
    assert [d.message_id for d in deliveries.list_for_chat(chat_id)] == [1]  # only the operator's reply


def test_a_record_of_a_chat_that_cannot_be_read_is_still_retried_when_a_rule_listens(reply_aws):
    operator_rule_only("https://wa.example.com")
    chat_id = create_chat(external_id="447700900000@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "for a chat about to vanish", 3)
    records = pipeline.stream_records()
    storage.chat_table().delete_item(Key=storage._chat_key(chat_id))
    [message] = [r for r in records if r["dynamodb"]["NewImage"]["type"]["S"] == "message"]
    del message["dynamodb"]["NewImage"][CHAT_SNAPSHOT]  # as a message stored before replies carried their chat
    assert pipeline.evaluate(records) == {"batchItemFailures": [{"itemIdentifier":
                                                                message["dynamodb"]["SequenceNumber"]}]}


def test_a_sent_replys_provider_id_rides_on_its_sent_write_and_receipts_find_it(reply_aws, httpserver):
    document = seed_document(httpserver.url_for(""))
    outgoing.put_rest_api(RestApi.model_validate(dict(document["rest_apis"][0], response_message_id="id")))
    outgoing.put_webhook(OutgoingWebhook.model_validate(document["webhooks"][0]))
    httpserver.expect_request("/sendText", method="POST").respond_with_json({"sent": True, "id": "wamid.7"})
    chat_id = create_chat(external_id="447700900000@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    message = storage.add_operator_message(chat_id, "tracked", 3)
    pipeline.evaluate(pipeline.stream_records())
    faults = Faults(tables.client())
    try:
        assert pipeline.dispatch(pipeline.receive()) == {"batchItemFailures": []}
    finally:
        faults.detach()
    on_message = [op for op, body in faults.requests if "MSG#" in str(body.get("Key") or body.get("TransactItems"))]
    assert on_message == ["TransactWriteItems"]  # sent and the provider id in one write (with the attempt)
    [stored] = [m for m in messages_of(chat_id) if m["id"] == message["id"]]
    assert (stored["delivery"], stored["provider_message_id"]) == ("sent", "wamid.7")
    assert chats.find_message(1, chats.provider_dedup_id("wamid.7")) == (chat_id, message["id"])


def test_a_duplicate_job_of_a_sent_reply_is_recognised_without_reading_its_delivery(reply_aws, httpserver):
    operator_rule_only(httpserver.url_for(""))
    httpserver.expect_request("/sendText", method="POST").respond_with_json({"sent": True})
    chat_id = create_chat(external_id="447700900000@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "once", 3)
    records = pipeline.stream_records()
    pipeline.evaluate(records)
    pipeline.evaluate(records)  # a replayed batch: the same job twice on the queue
    first = pipeline.receive()[:2]
    assert len(first) == 2
    pipeline.dispatch(first[:1])
    faults = Faults(tables.client())
    try:
        assert pipeline.dispatch(first[1:]) == {"batchItemFailures": []}
    finally:
        faults.detach()
    assert [op for op, _ in faults.requests if op in ("GetItem", "Query")] == []
    assert len(httpserver.log) == 1
