"""The evaluator's stream filters in template.yaml, applied as Lambda applies them: an edit reaches the evaluator
(chat.message_edited), a receipt's or reaction's change of a message does not, nor a message the business sent
from its own phone (user_id -2, which fires no reply webhook)."""

from boto3.dynamodb.types import TypeSerializer

from chatbridge.local.filters import matches_any
from chatbridge.local.template import load_template
from support.paths import TEMPLATE

_SERIALIZER = TypeSerializer()
MESSAGE = {"type": "message", "chat_id": 7, "id": 3, "user_id": 0, "msg": "helo", "time": 10}


def evaluator_filters():
    template = load_template(TEMPLATE, endpoint_url="http://127.0.0.1:1")
    [trigger] = template.functions["EvaluatorFunction"].stream_triggers
    return trigger.filters


def record(kind, new, old=None):
    images = {"NewImage": {k: _SERIALIZER.serialize(v) for k, v in new.items()}}
    if old is not None:
        images["OldImage"] = {k: _SERIALIZER.serialize(v) for k, v in old.items()}
    return {"eventName": kind, "dynamodb": images}


def test_edits_reach_the_evaluator_and_receipts_and_business_messages_do_not():
    filters = evaluator_filters()
    edited = {**MESSAGE, "msg": "hello", "edited_at": 20}
    assert matches_any(filters, record("MODIFY", edited, MESSAGE))
    assert not matches_any(filters, record("MODIFY", {**MESSAGE, "delivery": "read"}, MESSAGE))
    assert not matches_any(filters, record("MODIFY", {**MESSAGE, "reactions": [{"reaction": "x"}]}, MESSAGE))
    assert not matches_any(filters, record("INSERT", {**MESSAGE, "user_id": -2}))
    assert matches_any(filters, record("INSERT", MESSAGE)) and matches_any(filters, record("INSERT", {
        **MESSAGE, "user_id": 4}))
