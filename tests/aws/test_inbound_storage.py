"""What providers say about stored messages, on moto: delivery states only move forward, operator messages never
start a chat, a stand-in nick gives way to a real name, edits keep history, all safe to retry."""

import pytest

from chatbridge.ingest.store import ingest
from chatbridge.repository import chats, reply_storage, specs
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec

SPEC = {"identifier": "inbound-store", "name": "Inbound", "messages": "messages", "chat_id": "chat", "nick": "name",
        "nick_fallback": "phone", "message_id": "id", "operator": "mine=true",
        "edits": {"conditions": "edit=true", "message_id": "of", "body": "{{msg.text}}"},
        "receipts": {"items": "statuses", "message_id": "id", "status": "s",
                     "status_map": {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}},
        "text": [{"body": "{{msg.text}}"}]}


@pytest.fixture
def spec(aws_stack):
    stored, _ = specs.save_spec(IncomingWebhookSpec.model_validate(SPEC))
    return stored


def post(spec, payload):
    return ingest(spec, map_payload(spec, payload), payload)


def reply_with_provider_id(spec, chat_id, provider_id="p1"):
    message = reply_storage.add_operator_message(chat_id, "on its way", 3)
    reply_storage.set_message_delivery(chat_id, message["id"], "sent")
    chats.link_provider_message_id(spec.id, provider_id, chat_id, message["id"], provider_id)
    return message["id"]


def delivery(chat_id, message_id):
    return chats.get_message(chat_id, message_id)["delivery"]


def test_delivery_moves_forward_only_and_the_dispatcher_never_moves_it_back(spec):
    [chat_id] = post(spec, {"messages": [{"chat": "c1", "text": "hi", "id": "v1", "name": "Ana"}]}).chats
    reply = reply_with_provider_id(spec, chat_id)
    applied, stale = {"applied": 1, "unmatched": 0, "stale": 0}, {"applied": 0, "unmatched": 0, "stale": 1}
    for state, expected, counts in (("delivered", "delivered", applied), ("read", "read", applied),
                                    ("delivered", "read", stale), ("sent", "read", stale), ("failed", "read", stale)):
        assert post(spec, {"statuses": [{"id": "p1", "s": state}]}).receipts == counts, state
        assert delivery(chat_id, reply) == expected, state
    reply_storage.set_message_delivery(chat_id, reply, "sent")  # a duplicate job's late "sent"
    reply_storage.set_message_delivery(chat_id, reply, "queued")  # a replayed stream record
    assert delivery(chat_id, reply) == "read"


def test_a_receipt_naming_a_visitor_message_or_nothing_is_unmatched(spec):
    post(spec, {"messages": [{"chat": "c1", "text": "hi", "id": "v1", "name": "Ana"}]})
    outcome = post(spec, {"statuses": [{"id": "v1", "s": "read"}, {"id": "nobody", "s": "read"}]})
    assert outcome.receipts == {"applied": 0, "unmatched": 2, "stale": 0}


def test_an_operator_message_never_starts_a_chat_but_joins_one_that_exists(spec):
    first = post(spec, {"messages": [{"chat": "c1", "text": "from the phone", "id": "o1", "mine": True}]})
    assert first.chats == [] and first.skipped_messages == [
        {"index": 0, "reason": "message sent by the business itself, so it does not start a chat (as in Live "
                               "Helper Chat)"}]
    [chat_id] = post(spec, {"messages": [{"chat": "c1", "text": "hello", "id": "v1", "phone": "447"}]}).chats
    post(spec, {"messages": [{"chat": "c1", "text": "from the phone", "id": "o1", "mine": True, "name": "Shop"}]})
    messages = chats.list_messages(chat_id)
    assert [(m["user_id"], m.get("name_support")) for m in messages] == [(0, None), (-2, "Inbound")]
    assert chats.get_chat(chat_id)["nick"] == "447"  # the business's name never became the visitor's nick


def test_a_stand_in_nick_is_replaced_once_by_the_first_real_name(spec):
    [chat_id] = post(spec, {"messages": [{"chat": "c1", "text": "a", "id": "v1", "phone": "447"}]}).chats
    assert (chats.get_chat(chat_id)["nick"], chats.get_chat(chat_id)["nick_fallback"]) == ("447", True)
    post(spec, {"messages": [{"chat": "c1", "text": "b", "id": "v2", "name": "Aisha"}]})
    post(spec, {"messages": [{"chat": "c1", "text": "c", "id": "v3", "name": "Someone else"}]})
    chat = chats.get_chat(chat_id)
    assert (chat["nick"], chat["nick_fallback"]) == ("Aisha", False)


def test_an_edit_keeps_each_earlier_text_and_an_edit_of_an_unknown_message_is_kept_as_a_message(spec):
    [chat_id] = post(spec, {"messages": [{"chat": "c1", "text": "v1", "id": "m1", "name": "Ana"}]}).chats
    assert post(spec, {"messages": [{"chat": "c1", "text": "v2", "edit": True, "of": "m1", "id": "e1"}]}).edits == 1
    assert post(spec, {"messages": [{"chat": "c1", "text": "v3", "edit": True, "of": "m1", "id": "e2"}]}).edits == 1
    again = post(spec, {"messages": [{"chat": "c1", "text": "v3", "edit": True, "of": "m1", "id": "e2"}]})
    assert (again.edits, again.duplicates) == (0, 1)
    [message] = chats.list_messages(chat_id)
    assert message["msg"] == "v3" and [h["msg"] for h in message["history"]] == ["v1", "v2"]
    orphan = post(spec, {"messages": [{"chat": "c1", "text": "edited elsewhere", "edit": True, "of": "gone"}]})
    assert orphan.edits == 0 and len(orphan.messages) == 1
    assert chats.list_messages(chat_id)[-1]["msg"] == "edited elsewhere"
