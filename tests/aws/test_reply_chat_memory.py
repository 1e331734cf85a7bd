"""A warm function writing operator replies remembers the chats it wrote to (``chat_cache.reply_chats``); these
prove the memory is never believed over the table. Between two replies the chat is closed, reopened, taken
over by another operator or appended to by another writer (ingest, a second admin instance): every reply is
stored once, under the next id, the chat ends as documented (an operator's reply makes it active), and the
message carries the chat as that very write left it (``chat_snapshot``), which the evaluator uses as
``args.chat``.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ReadTimeoutError

from chatbridge.reply.events import build_args
from chatbridge.repository import chat_cache, chats, deliveries, tables
from chatbridge.repository import reply_storage as storage
from chatbridge.repository.values import CHAT_SNAPSHOT
from support.faults import Faults
from support.reply import create_chat, messages_of


@pytest.fixture
def chat_id(reply_aws):
    return create_chat(external_id="447700900000@c.us", identifier="openwa-demo")


def counted(write):
    """(what ``write()`` returned, the DynamoDB operations it sent)."""
    faults = Faults(tables.client())
    try:
        return write(), [operation for operation, _ in faults.requests]
    finally:
        faults.detach()


def snapshot_of(chat_id: int, message_id: int) -> dict:
    [message] = [m for m in messages_of(chat_id) if m["id"] == message_id]
    return message[CHAT_SNAPSHOT]


def chat_now(chat_id: int) -> dict:
    return tables.plain(storage.chat_table().get_item(Key=storage._chat_key(chat_id), ConsistentRead=True)["Item"])


def assert_snapshot_is_the_chat(chat_id: int, message_id: int) -> None:
    """What the message carries is the chat item as written (no raw payload, no keys)."""
    chat = {k: v for k, v in chat_now(chat_id).items() if k not in ("pk", "sk", "raw")}
    assert snapshot_of(chat_id, message_id) == chat


def test_a_reply_to_a_remembered_chat_is_one_transaction_and_its_message_carries_the_chat(chat_id):
    first, cold = counted(lambda: storage.add_operator_message(chat_id, "first", 3))
    assert cold == ["UpdateItem", "PutItem"]  # not remembered: the counter's answer is the chat
    second, warm = counted(lambda: storage.add_operator_message(chat_id, "second", 3))
    assert warm == ["TransactWriteItems"]
    assert (first["id"], second["id"]) == (1, 2) and CHAT_SNAPSHOT not in second
    assert_snapshot_is_the_chat(chat_id, 2)
    assert snapshot_of(chat_id, 2)["status"] == "active" and snapshot_of(chat_id, 2)["last_message_id"] == 2
    assert "raw" not in snapshot_of(chat_id, 1)
    assert all(CHAT_SNAPSHOT not in message for message in chats.list_messages(chat_id))


def test_a_chat_closed_since_it_was_remembered_is_reopened_by_the_reply_as_without_the_memory(chat_id):
    storage.add_operator_message(chat_id, "before the close", 3)
    assert chats.close_chat(chat_id)["status"] == "closed"
    stored, sent = counted(lambda: storage.add_operator_message(chat_id, "after the close", 3))
    assert sent == ["TransactWriteItems", "TransactWriteItems"]  # cancelled: the chat came back, tried again
    assert stored["id"] == 2 and chat_now(chat_id)["status"] == "active"
    assert_snapshot_is_the_chat(chat_id, 2)


def test_a_chat_another_writer_appended_to_keeps_every_message_and_the_next_id(chat_id, monkeypatch):
    storage.add_operator_message(chat_id, "mine", 3)
    remembered = chat_cache.reply_chats
    monkeypatch.setattr(chat_cache, "reply_chats", chat_cache.ReplyChats())  # a second admin instance
    storage.add_operator_message(chat_id, "the other instance's", 4)
    storage._append_message(chat_id, msg="a visitor writes", user_id=0)
    monkeypatch.setattr(chat_cache, "reply_chats", remembered)
    stored, sent = counted(lambda: storage.add_operator_message(chat_id, "mine again", 3))
    assert sent == ["TransactWriteItems", "TransactWriteItems"] and stored["id"] == 4
    assert [(m["id"], m["msg"]) for m in messages_of(chat_id)] == [
        (1, "mine"), (2, "the other instance's"), (3, "a visitor writes"), (4, "mine again")]
    assert_snapshot_is_the_chat(chat_id, 4)


def test_an_operator_taken_over_by_another_writer_is_the_operator_the_message_carries(chat_id):
    storage.add_operator_message(chat_id, "first", 3)
    later = int(time.time()) + 5  # a write in a later second, as every chat writer sets updated_at
    storage.chat_table().update_item(Key=storage._chat_key(chat_id), UpdateExpression="SET user_id = :u, "
                                     "updated_at = :t", ExpressionAttributeValues={":u": 9, ":t": later})
    stored, sent = counted(lambda: storage.add_operator_message(chat_id, "second", 3))
    assert sent == ["TransactWriteItems", "TransactWriteItems"] and stored["id"] == 2
    assert snapshot_of(chat_id, 2)["user_id"] == 9
    assert_snapshot_is_the_chat(chat_id, 2)


def test_a_remembered_chat_that_is_gone_answers_no_chat_and_writes_no_message(chat_id):
    storage.add_operator_message(chat_id, "first", 3)
    storage.chat_table().delete_item(Key=storage._chat_key(chat_id))
    stored, sent = counted(lambda: storage.add_operator_message(chat_id, "to nobody", 3))
    assert stored is None and sent == ["TransactWriteItems", "UpdateItem"]  # cancelled, then read whole: none
    assert [m["id"] for m in messages_of(chat_id)] == [1]


def test_a_transaction_conflict_on_the_chat_is_tried_again_and_stores_the_reply_once(chat_id):
    storage.add_operator_message(chat_id, "first", 3)
    faults = Faults(tables.client())
    faults.conflict("TransactWriteItems", times=2)
    try:
        stored = storage.add_operator_message(chat_id, "despite the conflict", 3)
    finally:
        faults.detach()
    assert faults.calls["TransactWriteItems"] == 3 and stored["id"] == 2
    assert [(m["id"], m["msg"]) for m in messages_of(chat_id)] == [(1, "first"), (2, "despite the conflict")]


def test_a_lost_answer_of_a_warm_reply_forgets_the_chat_and_the_retried_request_takes_the_next_id(chat_id):
    """A transaction that applied but whose answer was lost: the memory is dropped (the outcome is unknown), so
    the operator's retried request learns the chat again and stores its message under the next id."""
    storage.add_operator_message(chat_id, "first", 3)
    faults = Faults(tables.client())
    faults.lose_response("TransactWriteItems")
    try:
        with pytest.raises(ReadTimeoutError):
            storage.add_operator_message(chat_id, "lost answer", 3)
    finally:
        faults.detach()
    stored = storage.add_operator_message(chat_id, "retried", 3)
    assert stored["id"] == 3 and [m["id"] for m in messages_of(chat_id)] == [1, 2, 3]
    assert_snapshot_is_the_chat(chat_id, 3)


# -- the evaluator: the chat from the record, the two writes in one transaction ---------------------------------

@pytest.fixture
def listened(chat_id, reply_aws):
    """The seed's open-wa webhook answers operator messages; its rule cache warmed by a first reply."""
    from chatbridge.local.seed import seed_document
    from chatbridge.reply.rest_api import RestApi
    from chatbridge.reply.webhooks import OutgoingWebhook
    from chatbridge.repository import outgoing
    from support.pipeline import Pipeline

    document = seed_document("https://wa.example.com")
    outgoing.put_rest_api(RestApi.model_validate(document["rest_apis"][0]))
    outgoing.put_webhook(OutgoingWebhook.model_validate(document["webhooks"][0]))
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    storage.add_operator_message(chat_id, "warms the rule cache", 3)
    pipeline.evaluate(pipeline.stream_records())
    pipeline.receive()
    return pipeline


def evaluated(pipeline, records) -> list[str]:
    faults = Faults(tables.client())
    try:
        assert pipeline.evaluate(records) == {"batchItemFailures": []}
    finally:
        faults.detach()
    return [operation for operation, _ in faults.requests]


def queued_args(pipeline) -> list[dict]:
    import json

    return [json.loads(job["body"])["args"] for job in pipeline.receive()]


def test_an_operator_reply_is_evaluated_from_the_chat_it_carries_without_reading_it(chat_id, listened):
    storage.add_operator_message(chat_id, "from the record", 3)
    assert evaluated(listened, listened.stream_records()) == ["TransactWriteItems"]  # no GetItem; SQS apart
    [args] = queued_args(listened)
    assert args["chat"] == build_args(storage.get_chat(chat_id), None)["chat"]  # as a read now would give it
    assert CHAT_SNAPSHOT not in args["msg"] and args["msg"]["msg"] == "from the record"
    assert messages_of(chat_id)[-1]["delivery"] == "queued"


def test_a_message_without_a_chat_snapshot_has_its_chat_read_and_gets_the_same_args(chat_id, listened):
    storage.add_operator_message(chat_id, "an older message", 3)
    records = listened.stream_records()
    [message] = [r for r in records if r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"]["type"]["S"] == "message"]
    carried = listened.evaluate(records) and queued_args(listened)
    del message["dynamodb"]["NewImage"][CHAT_SNAPSHOT]  # as stored before replies carried their chat
    assert evaluated(listened, [message]) == ["GetItem", "TransactWriteItems", "PutItem", "UpdateItem"]
    [read] = queued_args(listened)  # the replay: its records exist, so the writes went one by one
    assert read["chat"] == carried[0]["chat"] and read["msg"] == carried[0]["msg"]


def test_a_replayed_record_cancels_the_transaction_and_each_write_leaves_what_it_finds(chat_id, listened):
    storage.add_operator_message(chat_id, "replayed", 3)
    records = listened.stream_records()
    listened.evaluate(records)
    assert chats.advance_delivery(chat_id, 2, "delivered") == "applied"  # sent and delivered meanwhile
    assert evaluated(listened, records) == ["TransactWriteItems", "PutItem", "UpdateItem"]
    assert messages_of(chat_id)[-1]["delivery"] == "delivered"  # not moved back to queued
    [delivery] = [d for d in deliveries.list_for_chat(chat_id) if d.message_id == 2]
    assert delivery.status == "queued"  # the record the first evaluation created, left alone


def test_a_transaction_conflict_in_the_evaluator_falls_back_to_the_writes_one_by_one(chat_id, listened):
    storage.add_operator_message(chat_id, "conflicted", 3)
    records = listened.stream_records()
    faults = Faults(tables.client())
    faults.conflict("TransactWriteItems")
    try:
        assert listened.evaluate(records) == {"batchItemFailures": []}
    finally:
        faults.detach()
    assert [op for op, _ in faults.requests] == ["TransactWriteItems", "PutItem", "UpdateItem"]
    assert messages_of(chat_id)[-1]["delivery"] == "queued" and len(queued_args(listened)) == 1


def test_a_reply_too_large_to_carry_its_chat_is_stored_without_it_and_its_chat_is_read(chat_id, listened):
    """A 64K-character reply of 4-byte characters to a chat whose attributes are all at their bound: the two
    together could pass DynamoDB's 400 KB, so the message is stored alone and the evaluator reads the chat."""
    from chatbridge.spec import limits

    attributes = {f"a{i}": "\U0001F600" * limits.MAX_CHAT_ATTRIBUTE_CHARS for i in range(limits.MAX_CHAT_ATTRIBUTES)}
    storage.chat_table().update_item(Key=storage._chat_key(chat_id), UpdateExpression="SET incoming_chat.attributes"
                                     " = :a", ExpressionAttributeValues={":a": attributes})
    chat_cache.reply_chats.clear()
    text = "\U0001F600" * limits.MAX_MESSAGE_CHARS
    stored = storage.add_operator_message(chat_id, text, 3)
    [message] = [m for m in messages_of(chat_id) if m["id"] == stored["id"]]
    assert CHAT_SNAPSHOT not in message and message["msg"] == text
    records = [r for r in listened.stream_records() if r["eventName"] == "INSERT"]
    assert evaluated(listened, records) == ["GetItem", "TransactWriteItems"]
    [args] = queued_args(listened)
    assert args["chat"]["incoming_chat"]["attributes"] == attributes
