"""map_payload: acceptance, message selection, kinds, grouping, contacts, times, reasons."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from chatbridge.spec.mapping import MappingResult, map_payload
from chatbridge.spec.model import IncomingWebhookSpec


def make_spec(**changes):
    base = {"identifier": "test-spec", "name": "Test", "messages": "messages", "chat_id": "from",
            "nick": "name", "phone": "from||@||0", "email": "email", "time": "t", "message_id": "id",
            "text": [{"conditions": "type=chat", "body": "{{msg.body}}"}],
            "image": {"conditions": "type=image", "body": "{{msg.url}}"},
            "attachment": {"conditions": "type=document", "body": "{{msg.url}}"}}
    return IncomingWebhookSpec.model_validate({**base, **changes})


SPEC = make_spec()


def msg(chat="1@c.us", body="hi", **extra):
    return {"from": chat, "type": "chat", "body": body, **extra}


def test_general_conditions_refuse_the_payload_naming_the_clause():
    spec = make_spec(conditions="event=message||token=s3cret")
    result = map_payload(spec, {"event": "message", "token": "guess", "messages": [msg()]})
    assert not result.accepted and result.chats == [] and result.skipped == []
    assert result.reason == "general conditions not met: 'token=s3cret' does not hold"
    assert map_payload(spec, {"event": "message", "token": "s3cret", "messages": [msg()]}).accepted


def test_general_conditions_see_dotted_first_level_paths():
    spec = make_spec(conditions="payload.message.fromMe=false")
    assert map_payload(spec, {"payload": {"message": {"fromMe": False}}, "messages": [msg()]}).accepted


def test_messages_as_a_list_an_object_or_the_whole_payload():
    assert map_payload(SPEC, {"messages": [msg(), msg()]}).message_count == 2
    assert map_payload(SPEC, {"messages": msg()}).message_count == 1
    whole = make_spec(messages="")
    assert map_payload(whole, msg()).chats[0].messages[0].body == "hi"
    assert map_payload(whole, [msg(body="a"), msg(body="b")]).message_count == 2


def test_messages_location_may_be_dotted_beyond_lhc_first_level():
    spec = make_spec(messages="entry.0.changes.0.value.messages")
    payload = {"entry": [{"changes": [{"value": {"messages": [msg(body="deep")]}}]}]}
    assert map_payload(spec, payload).chats[0].messages[0].body == "deep"


def test_a_payload_without_messages_is_not_accepted_and_says_why():
    assert map_payload(SPEC, {"statuses": []}).reason == "no messages at 'messages'"
    assert map_payload(SPEC, {"messages": None}).reason == "no messages at 'messages'"
    assert map_payload(SPEC, {"messages": []}).reason == "no messages: 'messages' is an empty list"
    assert "holds a str" in map_payload(SPEC, {"messages": "hi"}).reason


def test_kinds_are_tried_attachment_image_then_text_and_a_message_matching_none_is_a_labelled_placeholder():
    payload = {"messages": [msg(type="document", url="f.pdf"), msg(type="image", url="i.png"), msg(),
                            msg(type="sticker")]}
    result = map_payload(make_spec(message_type="type"), payload)
    assert [(m.kind, m.body) for m in result.chats[0].messages] == [
        ("attachment", "f.pdf"), ("image", "i.png"), ("text", "hi"), ("text", "[unsupported: sticker]")]
    assert result.skipped == [] and result.accepted
    assert map_payload(SPEC, payload).chats[0].messages[-1].body == "[unsupported: unknown]"


def test_a_spec_that_opts_out_skips_a_message_matching_no_kind_with_the_reason():
    payload = {"messages": [msg(), msg(type="sticker")]}
    result = map_payload(make_spec(unsupported="skip"), payload)
    assert [m.body for m in result.chats[0].messages] == ["hi"]
    assert [(s.index, s.reason) for s in result.skipped] == [
        (1, "matched no message kind (tried attachment, image, text[0])")]
    assert result.accepted


def test_a_text_kind_without_conditions_takes_every_remaining_message():
    spec = make_spec(text=[{"conditions": "type=location", "body": "at {{msg.loc}}"}, {"body": "{{msg.body}}"}])
    result = map_payload(spec, {"messages": [msg(type="location", loc="London"), msg(type="weird", body="x")]})
    assert [m.body for m in result.chats[0].messages] == ["at London", "x"]


def test_message_without_chat_id_is_skipped_and_the_batch_goes_on():
    result = map_payload(SPEC, {"messages": [{"type": "chat", "body": "lost"}, msg(body="kept")]})
    assert [(s.index, s.reason) for s in result.skipped] == [(0, "no chat id at 'from'")]
    assert [(m.body, m.index) for m in result.chats[0].messages] == [("kept", 1)]


def test_message_whose_body_renders_empty_is_skipped_with_the_template_named():
    result = map_payload(SPEC, {"messages": [msg(body=None)]})
    assert result.skipped[0].reason == "matched text[0] but its body '{{msg.body}}' rendered empty"


def test_overlong_chat_id_is_skipped():
    assert "longer than 256" in map_payload(SPEC, {"messages": [msg(chat="x" * 257)]}).skipped[0].reason


def test_messages_are_grouped_by_chat_in_payload_order():
    payload = {"messages": [msg("a", "1"), msg("b", "2"), msg("a", "3"), msg("c", "4"), msg("b", "5")]}
    chats = map_payload(SPEC, payload).chats
    assert [(c.chat_external_id, [(m.body, m.index) for m in c.messages]) for c in chats] == [
        ("a", [("1", 0), ("3", 2)]), ("b", [("2", 1), ("5", 4)]), ("c", [("4", 3)])]


def test_absent_nick_falls_back_to_visitor_and_later_messages_fill_contacts():
    chat = map_payload(SPEC, {"messages": [msg("a"), msg("a", name="Aisha", email="a@x.test")]}).chats[0]
    assert (chat.nick, chat.phone, chat.email) == ("Aisha", "a", "a@x.test")
    chat = map_payload(SPEC, {"messages": [msg("447@c.us", name="  ")]}).chats[0]
    assert (chat.nick, chat.phone, chat.email) == ("Visitor", "447", None)


def test_nick_alternatives_first_or_joined():
    payload = {"messages": [msg(first="Nic", last="Pottier")]}
    assert map_payload(make_spec(nick="first|||last"), payload).chats[0].nick == "Nic"
    assert map_payload(make_spec(nick="first|||middle|||last", nick_combine="join"), payload).chats[0].nick == \
        "Nic Pottier"


def test_root_locations_reach_beside_the_messages():
    spec = make_spec(nick="$root.contacts.0.profile.name", text=[{"conditions": "$root.object=wa",
                                                                  "body": "{{msg.body}} via {{msg.$root.object}}"}])
    payload = {"object": "wa", "contacts": [{"profile": {"name": "Kerry"}}], "messages": [msg()]}
    chat = map_payload(spec, payload).chats[0]
    assert (chat.nick, chat.messages[0].body) == ("Kerry", "hi via wa")


def test_kind_conditions_look_at_message_attributes():
    spec = make_spec(text=[{"conditions": "type=chat||is_echo!=true", "body": "{{msg.body}}"}], unsupported="skip")
    result = map_payload(spec, {"messages": [msg(is_echo=True), msg()]})
    assert [s.index for s in result.skipped] == [0] and result.message_count == 1


def test_message_ids_keep_big_numbers_exact_and_times_become_epoch_seconds():
    times = [1454119029, "1454119029", 1459991487970, "2024-01-02T03:04:05Z", "soon", True, None, 1.7e9,
             10 ** 30]
    payload = {"messages": [msg(id=4987381189870374000 + i, t=t) for i, t in enumerate(times)]}
    messages = map_payload(SPEC, payload).chats[0].messages
    assert messages[0].message_id == "4987381189870374000"
    assert [m.time for m in messages] == [1454119029, 1454119029, 1459991487, 1704164645, None, None, None,
                                          1700000000, None]  # 10**30: no date in s or ms


def test_absent_message_id_and_time_are_null():
    message = map_payload(make_spec(message_id="", time=""), {"messages": [msg(id="x", t=1)]}).chats[0].messages[0]
    assert (message.message_id, message.time) == (None, None)


def test_document_has_exactly_the_simulate_shape_and_dumps_leave_raw_out():
    result = map_payload(SPEC, {"messages": [msg(id="m1", t=5), {"type": "chat"}]})
    assert result.to_document() == {
        "accepted": True, "reason": None,
        "chats": [{"chat_external_id": "1@c.us", "nick": "Visitor", "phone": "1", "email": None,
                   "messages": [{"kind": "text", "body": "hi", "message_id": "m1", "time": 5}]}],
        "skipped": [{"index": 1, "reason": "no chat id at 'from'"}]}
    dumped = json.loads(result.model_dump_json())
    assert "raw" not in dumped["chats"][0]["messages"][0] and dumped["chats"][0]["messages"][0]["index"] == 0
    assert result.chats[0].messages[0].raw == msg(id="m1", t=5)
    assert MappingResult.model_validate(dumped).to_document() == result.to_document()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["messages", "from", "type", "body", "t", "id", "name", "x"]), children, max_size=5),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_mapping_never_raises_on_any_json(payload):
    for spec in (SPEC, make_spec(messages="")):
        result = map_payload(spec, payload)
        assert result.accepted or result.reason
        json.dumps(result.to_document())
