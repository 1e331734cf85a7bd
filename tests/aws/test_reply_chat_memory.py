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

from chatbridge.repository import chat_cache, chats, tables
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
