"""After a send, the dispatcher writes the attempt and the message's ``sent`` in one ``TransactWriteItems``
(``reply_storage.record_sent``). A send that happened must never be forgotten, so whatever befalls that
transaction (a conflict with another writer of the message, a message that is ``failed`` or moved on, a
throttle, an answer lost) ends with the attempt recorded: a duplicate or redelivered job finds the delivery
``sent`` and sends nothing, and the message ends ``sent`` (or keeps what it had over it). Through the real
pipeline to a loopback third party; faults on the repository's real client (``support.faults``).
"""

from __future__ import annotations

import pytest
from werkzeug import Request, Response

from chatbridge.local.seed import seed_document
from chatbridge.reply.rest_api import RestApi
from chatbridge.reply.webhooks import OutgoingWebhook
from chatbridge.repository import chats, deliveries, outgoing, tables
from chatbridge.repository import reply_storage as storage
from support.faults import Faults
from support.pipeline import Pipeline
from support.reply import create_chat, messages_of


@pytest.fixture
def reply(reply_aws, httpserver):
    received: list[dict] = []

    def record(request: Request) -> Response:
        received.append(request.get_json())
        return Response('{"sent": true, "id": "wamid.1"}', status=200)

    httpserver.expect_request("/sendText", method="POST").respond_with_handler(record)
    document = seed_document(httpserver.url_for(""))
    outgoing.put_rest_api(RestApi.model_validate(dict(document["rest_apis"][0], response_message_id="id")))
    outgoing.put_webhook(OutgoingWebhook.model_validate(document["webhooks"][0]))
    chat_id = create_chat(external_id="447700900000@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "exactly once", 3)
    pipeline.evaluate(pipeline.stream_records())
    return {"chat_id": chat_id, "pipeline": pipeline, "received": received}


def dispatched(reply, arrange) -> tuple[dict, Faults]:
    faults = Faults(tables.client())
    arrange(faults)
    try:
        return reply["pipeline"].dispatch(reply["pipeline"].receive()), faults
    finally:
        faults.detach()


def reply_writes(faults: Faults) -> list[str]:
    """The chat and delivery tables' requests (a cold dispatcher also reads its spec and REST API)."""
    return [op for op, body in faults.requests if body.get("TableName") in ("chats", "deliveries")
            or op == "TransactWriteItems"]


def assert_sent_once(reply, delivery_state: str = "sent") -> None:
    [delivery] = deliveries.list_for_chat(reply["chat_id"])
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    [message] = messages_of(reply["chat_id"])
    assert message["delivery"] == delivery_state
    assert [body["body"] for body in reply["received"]] == ["exactly once"]
    assert chats.find_message(1, chats.provider_dedup_id("wamid.1")) == (reply["chat_id"], 1)


def test_a_sent_reply_is_recorded_with_its_message_in_one_transaction(reply):
    result, faults = dispatched(reply, lambda faults: None)
    assert result == {"batchItemFailures": []}
    assert reply_writes(faults) == ["UpdateItem", "TransactWriteItems", "PutItem"]  # claim, record, dedup
    assert_sent_once(reply)
    assert messages_of(reply["chat_id"])[0]["provider_message_id"] == "wamid.1"


def test_a_conflict_with_another_writer_of_the_message_is_tried_again_and_sends_nothing_twice(reply):
    result, faults = dispatched(reply, lambda faults: faults.conflict("TransactWriteItems"))
    assert result == {"batchItemFailures": []} and faults.calls["TransactWriteItems"] == 2
    assert_sent_once(reply)


def test_a_transaction_that_keeps_conflicting_becomes_the_two_writes_of_before(reply):
    result, faults = dispatched(reply, lambda faults: faults.conflict("TransactWriteItems", times=10))
    assert result == {"batchItemFailures": []} and faults.calls["TransactWriteItems"] == storage.SENT_CONFLICTS
    assert reply_writes(faults)[-3:] == ["UpdateItem", "UpdateItem", "PutItem"]  # attempt, message, dedup
    assert_sent_once(reply)
    reply["pipeline"].pump()
    assert len(reply["received"]) == 1


def test_a_message_a_receipt_moved_on_keeps_its_state_and_the_attempt_is_still_recorded(reply):
    """The provider's receipt got there first (the message is ``delivered``): the transaction's condition
    cancels it, and the attempt is written alone; the message stays ``delivered``."""
    assert chats.advance_delivery(reply["chat_id"], 1, "delivered") == "applied"
    result, faults = dispatched(reply, lambda faults: None)
    assert result == {"batchItemFailures": []}
    assert_sent_once(reply, delivery_state="delivered")


@pytest.mark.parametrize("fault", ["throttled", "answer lost"])
def test_a_failed_transaction_after_the_send_still_records_the_attempt_and_the_job_sends_nothing_again(reply,
                                                                                                    fault):
    def arrange(faults: Faults) -> None:
        if fault == "throttled":
            faults.fail("TransactWriteItems", "ProvisionedThroughputExceededException")
        else:
            faults.lose_response("TransactWriteItems")

    result, faults = dispatched(reply, arrange)
    assert len(result["batchItemFailures"]) == 1 and len(faults.injected) == 1
    [delivery] = deliveries.list_for_chat(reply["chat_id"])
    assert delivery.status == "sent"  # recorded alone: the redelivered job finds it
    reply["pipeline"].pump()
    [message] = messages_of(reply["chat_id"])
    assert message["delivery"] == "sent" and [body["body"] for body in reply["received"]] == ["exactly once"]
    assert delivery.attempts == 1
