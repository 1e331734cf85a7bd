"""The spec's sections for what a provider says besides visitor messages: checked at save, mapped purely.

Receipts, operator messages (echoes), groups and authors, edits, reactions, placeholders for kinds the spec
does not know, and a fallback nick that a real name replaces.
"""

import pytest
from pydantic import ValidationError

from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec


def make_spec(**changes):
    base = {"identifier": "inbound", "name": "Inbound", "messages": "messages", "chat_id": "chat", "nick": "name",
            "phone": "from", "message_id": "id", "time": "t", "message_type": "type",
            "text": [{"conditions": "type=text", "body": "{{msg.body}}"}]}
    return IncomingWebhookSpec.model_validate({**base, **changes})


def refused(**changes) -> str:
    with pytest.raises(ValidationError) as caught:
        make_spec(**changes)
    return str(caught.value)


@pytest.mark.parametrize("receipt, why", [
    ({"status": "s", "status_map": {"ok": "read"}}, "give message_id (the reply's provider id) or watermark"),
    ({"watermark": "w", "state": "read"}, "watermark needs chat_id"),
    ({"message_id": "id"}, "give status and status_map"),
    ({"message_id": "id", "state": "read", "status": "s"}, "either state or status with status_map"),
    ({"message_id": "id", "status": "s", "status_map": {"ok": "seen"}}, "status_map.ok"),
    ({"message_id": "id", "state": "read", "conditions": "type==x"}, "type==x"),
])
def test_a_receipt_section_that_could_never_work_is_refused_at_save_naming_why(receipt, why):
    assert why in refused(receipts=[receipt])


def test_sections_that_would_swallow_every_message_or_never_match_are_refused():
    assert "an edit kind needs conditions" in refused(edits={"conditions": " ", "body": "{{msg.body}}"})
    assert "edits.message_id or the spec's message_id" in refused(
        message_id="", edits={"conditions": "edited=true", "body": "{{msg.body}}"})
    assert "a reaction kind needs reaction" in refused(reactions={"conditions": "type=r", "message_id": "of",
                                                                  "reaction": ""})
    assert "operator: give the conditions" in refused(operator="")
    assert "needs chat_id" in refused(message_id_scope="chat", receipts={"message_id": "id", "state": "read"})
    assert "edits.body" in refused(edits={"conditions": "e=1", "body": "{{nope.x}}"})


def test_receipts_are_read_before_the_general_conditions_and_their_items_are_no_messages():
    spec = make_spec(conditions="kind=message", receipts={"items": "messages", "conditions": "status=__exists__",
                                                          "message_id": "ids", "status": "status",
                                                          "status_map": {"seen": "read", "gone": "failed"},
                                                          "reason": "why"})
    only = map_payload(spec, {"kind": "status", "messages": [{"ids": ["a", "b"], "status": "seen"}]})
    assert only.accepted and only.chats == [] and [(r.message_ids, r.state) for r in only.receipts] == [
        (["a", "b"], "read")]
    mixed = map_payload(spec, {"kind": "message", "messages": [
        {"ids": "c", "status": "gone", "why": "blocked"}, {"chat": "1", "type": "text", "body": "hi"},
        {"ids": "d", "status": "queued", "chat": "1", "type": "x"}]})
    assert [(r.message_ids, r.state, r.reason) for r in mixed.receipts] == [(["c"], "failed", "blocked")]
    # a status the map does not name is no receipt: the item goes on as a message (here a placeholder)
    assert [m.body for m in mixed.chats[0].messages] == ["hi", "[unsupported: x]"] and mixed.skipped == []


def test_operator_messages_take_their_chat_from_the_recipient_and_fill_no_contact():
    spec = make_spec(operator="mine=true", operator_chat_id="to", name_support="Shop")
    result = map_payload(spec, {"messages": [
        {"mine": True, "chat": "shop", "to": "1", "type": "text", "body": "sent from the phone", "name": "Shop",
         "from": "555"},
        {"chat": "1", "type": "text", "body": "thanks", "name": "Aisha", "from": "447"}]})
    [chat] = result.chats
    assert (chat.chat_external_id, chat.nick, chat.phone) == ("1", "Aisha", "447")
    assert [(m.user_id, m.name_support) for m in chat.messages] == [(-2, "Shop"), (0, None)]
    assert make_spec(operator="mine=true").compiled.name_support == "Inbound"  # default: the spec's name


def test_a_group_is_named_by_its_chat_name_never_gets_a_phone_and_keeps_each_author():
    spec = make_spec(group="grp=true", chat_name="title", author_name="name", author_id="from")
    result = map_payload(spec, {"messages": [
        {"grp": True, "chat": "g1", "type": "text", "body": "one", "name": "Aisha", "from": "447"},
        {"grp": True, "chat": "g1", "type": "text", "body": "two", "name": "Ben", "from": "448", "title": "Team"}]})
    [chat] = result.chats
    assert (chat.chat_type, chat.nick, chat.phone, chat.nick_fallback) == ("group", "Team", None, False)
    assert [m.author for m in chat.messages] == [{"name": "Aisha", "id": "447"}, {"name": "Ben", "id": "448"}]


def test_a_fallback_nick_is_replaced_by_the_first_real_name():
    spec = make_spec(nick_fallback="from")
    result = map_payload(spec, {"messages": [{"chat": "1", "type": "text", "body": "a", "from": "447"},
                                             {"chat": "1", "type": "text", "body": "b", "name": "Aisha"}]})
    [chat] = result.chats
    assert (chat.nick, chat.nick_fallback) == ("Aisha", False)
    lone = map_payload(spec, {"messages": [{"chat": "1", "type": "text", "body": "a", "from": "447"}]}).chats[0]
    assert (lone.nick, lone.nick_fallback) == ("447", True)


def test_edits_and_reactions_name_the_message_they_change():
    spec = make_spec(edits={"conditions": "edited=true", "message_id": "of", "body": "{{msg.body}}"},
                     reactions={"conditions": "type=reaction", "message_id": "of", "reaction": "emoji"},
                     author_name="name")
    result = map_payload(spec, {"messages": [
        {"edited": True, "of": "m1", "chat": "1", "type": "text", "body": "fixed", "t": 5},
        {"edited": True, "of": "m1", "chat": "1", "type": "text", "body": " "},  # an empty edit is no edit
        {"type": "reaction", "of": "m1", "chat": "1", "emoji": "\u2764", "name": "Aisha", "t": 6}]})
    [chat] = result.chats
    assert [(m.edit_of, m.body, m.time) for m in chat.messages] == [("m1", "fixed", 5)]
    assert [(s.index, s.reason[:24]) for s in result.skipped] == [(1, "matched text[0] but its ")]
    [reaction] = chat.reactions
    assert (reaction.message_id, reaction.reaction, reaction.author, reaction.time) == (
        "m1", "\u2764", {"name": "Aisha", "id": ""}, 6)
    assert result.to_document()["chats"][0]["reactions"] == [
        {"message_id": "m1", "reaction": "\u2764", "author": {"name": "Aisha", "id": ""}, "time": 6}]
