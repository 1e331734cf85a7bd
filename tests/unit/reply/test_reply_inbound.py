"""The reply side of what providers say back: the sent message's id in the send call's answer, the edit event,
and a REST API's response_message_id checked at save."""

import pytest
from boto3.dynamodb.types import TypeSerializer
from pydantic import ValidationError

from chatbridge.reply.dispatch import HttpResult, sent_message_id
from chatbridge.reply.events import build_args, event_of
from chatbridge.reply.rest_api import RestApi

_SERIALIZER = TypeSerializer()


def record(kind, new, old=None):
    images = {"NewImage": {k: _SERIALIZER.serialize(v) for k, v in new.items()}}
    if old is not None:
        images["OldImage"] = {k: _SERIALIZER.serialize(v) for k, v in old.items()}
    return {"eventName": kind, "dynamodb": images}


MESSAGE = {"type": "message", "chat_id": 7, "id": 3, "user_id": 0, "msg": "helo", "time": 10}


@pytest.mark.parametrize("location, answer, expected", [
    ("messages.0.id", '{"messages": [{"id": "wamid.HBg"}]}', "wamid.HBg"),
    ("message_token", '{"status": 0, "message_token": 5741311803571721087}', "5741311803571721087"),  # > 2^53, exact
    ("result.message_id", '{"ok": true, "result": {"message_id": 9}}', "9"),
    ("sid", "not json", None),
    ("messages", '{"messages": [{"id": "x"}]}', None),  # an object or list is no id
    ("sid", "", None),
])
def test_the_sent_message_id_is_read_from_the_answer_or_left_out(location, answer, expected):
    assert sent_message_id(location, HttpResult(status=200, response=answer)) == expected


def test_response_message_id_is_a_location_checked_at_save():
    assert RestApi(id="a", url="https://x.example/send", response_message_id="messages.0.id").response_message_id
    with pytest.raises(ValidationError, match="response_message_id"):
        RestApi(id="a", url="https://x.example/send", response_message_id="$.messages[")


def test_an_edit_fires_chat_message_edited_once_and_other_changes_of_a_message_fire_nothing():
    edited = {**MESSAGE, "msg": "hello", "edited_at": 20, "history": [{"msg": "helo", "time": 10}]}
    event = event_of(record("MODIFY", edited, MESSAGE))
    assert (event.name, event.chat_id, event.message["msg"]) == ("chat.message_edited", 7, "hello")
    assert event_of(record("MODIFY", {**edited, "delivery": "read"}, edited)) is None  # a receipt after the edit
    assert event_of(record("MODIFY", {**MESSAGE, "delivery": "read"}, MESSAGE)) is None
    assert event_of(record("INSERT", {**MESSAGE, "user_id": -2})) is None  # sent from the business's phone


def test_args_name_a_chat_stored_before_groups_individual():
    chat = {"id": 7, "iwh_id": 1, "incoming_chat": {"chat_external_id": "1"}}
    assert build_args(chat, None)["chat"]["incoming_chat"]["chat_type"] == "individual"
    group = {**chat, "incoming_chat": {"chat_external_id": "g", "chat_type": "group"}}
    assert build_args(group, None)["chat"]["incoming_chat"]["chat_type"] == "group"
