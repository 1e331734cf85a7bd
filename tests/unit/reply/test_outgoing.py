"""Outgoing webhook rules: condition clauses, event derivation from stream records, args."""

import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chatbridge.lang.core import MISSING, resolve
from chatbridge.reply.events import build_args, event_of
from chatbridge.reply.webhooks import OutgoingWebhook, matching_rules

SERIALIZER = TypeSerializer()

CHAT = {"type": "chat", "id": 7, "status": "pending", "nick": "Aisha", "iwh_id": 1, "user_id": 0,
        "chat_variables": {"iwh_id": 1},
        "incoming_chat": {"chat_external_id": "447700900000@c.us",
                          "incoming": {"id": 1, "identifier": "openwa", "name": "WA", "scope": "whatsapp"}}}
MESSAGE = {"type": "message", "chat_id": 7, "id": 3, "user_id": 5, "msg": "Hello there", "kind": "text"}


def args(message=MESSAGE, chat=CHAT):
    return build_args(chat, message)


def rule(*conditions, event="chat.web_add_msg_admin", enabled=True):
    return OutgoingWebhook(id="r", event=event, conditions=list(conditions), rest_api_id="api", enabled=enabled)


def record(event_name, new=None, old=None):
    dynamodb = {}
    if new is not None:
        dynamodb["NewImage"] = {k: SERIALIZER.serialize(v) for k, v in new.items()}
    if old is not None:
        dynamodb["OldImage"] = {k: SERIALIZER.serialize(v) for k, v in old.items()}
    return {"eventName": event_name, "dynamodb": dynamodb}


@pytest.mark.parametrize("condition", [
    "{args.chat.chat_variables_array.iwh_id} = 1",
    "{args.chat.iwh_id} = 1",
    "{args.chat.incoming_chat.incoming.scope} = whatsapp",
    "{args.chat.incoming_chat.incoming.scope} != telegram",
    "{args.chat.id} > 6", "{args.chat.id} < 8", "{args.chat.id} >= 7", "{args.chat.id} <= 7",
    "{args.msg.msg} contains there",
    "{args.chat.incoming_chat.incoming.scope} in telegram, whatsapp",
    "{args.chat.iwh_id} eq 1", "{args.chat.iwh_id} neq 2", "{args.chat.id} gt 1", "{args.chat.id} gte 7",
    "{args.chat.id} lt 10", "{args.chat.id} lte 7", "{args.msg.msg} like hello*", "{args.msg.msg} like THERE",
    "{args.msg.msg} notlike goodbye", "{args.chat.phone} empty", "{args.chat.nick} notempty",
    "{args.msg.msg} contains Hello",
])
def test_clauses_that_hold(condition):
    assert rule(condition).matches("chat.web_add_msg_admin", args())


@pytest.mark.parametrize("condition", [
    "{args.chat.iwh_id} = 2", "{args.chat.id} > 7", "{args.msg.msg} contains bye",
    "{args.chat.incoming_chat.incoming.scope} in telegram,viber", "{args.chat.nick} empty",
    "{args.msg.msg} like bye*", "{args.msg.msg} notlike hello*",
])
def test_clauses_that_fail(condition):
    assert not rule(condition).matches("chat.web_add_msg_admin", args())


@pytest.mark.parametrize("condition", [
    "{args.chat.nothing} = ", "{args.chat.nothing} = null", "{args.chat.nothing} = 0", "{args.chat.nothing} > 0",
    "{args.chat.nothing} < 1", "{args.chat.nothing} contains a", "{args.chat.nothing} in ,a",
    "{args.chat.nothing} like *", "{args.chat.nothing} notempty", "{args.chat.nick.deeper} = Aisha",
])
def test_missing_attribute_equals_nothing(condition):
    assert not rule(condition).matches("chat.web_add_msg_admin", args())


@pytest.mark.parametrize("condition", ["{args.chat.nothing} != 1", "{args.chat.nothing} empty",
                                       "{args.chat.nothing} notlike x"])
def test_missing_attribute_satisfies_negations(condition):
    assert rule(condition).matches("chat.web_add_msg_admin", args())


def test_all_clauses_must_hold_and_rule_must_be_enabled_and_event_must_match():
    both = rule("{args.chat.iwh_id} = 1", "{args.chat.id} = 8")
    assert not both.matches("chat.web_add_msg_admin", args())
    assert not rule("{args.chat.iwh_id} = 1", enabled=False).matches("chat.web_add_msg_admin", args())
    assert not rule("{args.chat.iwh_id} = 1").matches("chat.addmsguser", args())
    assert matching_rules([rule(), rule("{args.chat.id} = 9")], "chat.web_add_msg_admin", args()) == [rule()]


def test_conditions_as_lhc_text_one_per_line():
    webhook = OutgoingWebhook(id="r", event="chat.close", rest_api_id="a",
                              conditions="{args.chat.iwh_id} = 1\n\n{args.chat.id} gt 1\n")
    assert webhook.conditions == ["{args.chat.iwh_id} = 1", "{args.chat.id} gt 1"]


@pytest.mark.parametrize(("condition", "reason"), [
    ("args.chat.id = 1", "is not '{args.<path>} <operator> <value>'"),
    ("{chat.id} = 1", "must start with 'args.'"),
    ("{args.chat..id} = 1", "empty step"),
    ("{args.chat.id} ~ 1", "is not"),
    ("{args.chat.id} empty 1", "takes no value"),
    ("{args.chat.id} > abc", "compares numbers"),
    ("{args.chat.raw.To} = +1", "chat_attributes"),
])
def test_invalid_condition_is_refused_naming_the_clause(condition, reason):
    with pytest.raises(ValidationError) as error:
        rule("{args.chat.id} = 7", condition)
    text = str(error.value)
    assert "condition 2" in text and reason in text and "conditions" in text


def test_unknown_event_and_extra_fields_are_refused():
    with pytest.raises(ValidationError, match="event"):
        OutgoingWebhook(id="r", event="chat.typing", rest_api_id="a")
    with pytest.raises(ValidationError, match="rest_apiid"):
        OutgoingWebhook(id="r", event="chat.close", rest_api_id="a", rest_apiid="b")


def test_operator_message_insert_is_web_add_msg_admin():
    event = event_of(record("INSERT", MESSAGE))
    assert event.name == "chat.web_add_msg_admin" and event.chat_id == 7 and event.message["msg"] == "Hello there"
    assert isinstance(event.message["id"], int)


def test_visitor_message_insert_is_addmsguser_and_system_messages_fire_nothing():
    assert event_of(record("INSERT", {**MESSAGE, "user_id": 0})).name == "chat.addmsguser"
    assert event_of(record("INSERT", {**MESSAGE, "user_id": -1})) is None


def test_message_modify_or_remove_fires_nothing():
    assert event_of(record("MODIFY", {**MESSAGE, "delivery": "sent"}, MESSAGE)) is None
    assert event_of(record("REMOVE", None, MESSAGE)) is None


def test_chat_events():
    assert event_of(record("INSERT", CHAT)).name == "chat.started"
    closed = {**CHAT, "status": "closed"}
    assert event_of(record("MODIFY", closed, CHAT)).name == "chat.close"
    assert event_of(record("MODIFY", closed, closed)) is None
    assert event_of(record("MODIFY", {**CHAT, "status": "active"}, CHAT)) is None


def test_bookkeeping_records_fire_nothing():
    assert event_of(record("INSERT", {"type": "counter", "value": 3})) is None


def test_message_record_without_ids_is_an_error_not_a_silent_drop():
    with pytest.raises(ValueError, match="chat_id"):
        event_of(record("INSERT", {"type": "message", "user_id": 1, "id": 1}))


def test_args_expose_iwh_id_both_ways_and_plain_numbers():
    chat = {**CHAT, "chat_variables": {"iwh_id": 4}, "pk": "CHAT#7"}
    chat.pop("iwh_id")
    built = build_args(chat, None)
    assert built["chat"]["iwh_id"] == 4 and built["chat"]["chat_variables_array"] == {"iwh_id": 4}
    assert "pk" not in built["chat"] and "msg" not in built


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children,
                                                                                       max_size=4), max_leaves=20)
OPERATORS = ["=", "!=", ">", "<", ">=", "<=", "contains", "in", "eq", "neq", "lt", "lte", "gt", "gte", "like",
             "notlike", "empty", "notempty"]


@settings(deadline=None, max_examples=300)
@given(chat=JSON, operator=st.sampled_from(OPERATORS), path=st.sampled_from(["chat", "chat.a", "chat.a.0", "msg.msg"]))
def test_conditions_never_raise_on_any_args(chat, operator, path):
    value = "" if operator in ("empty", "notempty") else "1"
    webhook = rule(f"{{args.{path}}} {operator} {value}")
    assert webhook.matches("chat.web_add_msg_admin", {"chat": chat, "msg": chat}) in (True, False)


def test_huge_numbers_compare_without_raising():
    assert not rule("{args.chat.big} > 1").matches("chat.web_add_msg_admin", {"chat": {"big": 10 ** 400}})
    assert rule("{args.chat.big} != 1").matches("chat.web_add_msg_admin", {"chat": {"big": 10 ** 400}})


@pytest.mark.parametrize("step", ["²", "٣", "9" * 5000, "-1"])
def test_odd_list_steps_are_absent_instead_of_crashing_the_evaluator(step):
    chat = {**CHAT, "files": ["a", "b"]}
    assert resolve({"chat": chat}, f"chat.files.{step}") is MISSING
    assert not rule(f"{{args.chat.files.{step}}} = a").matches("chat.web_add_msg_admin", {"chat": chat})
