"""What the provider tells us, the operator sees (issue 14), per preset, through the real path on moto.

Each test applies the preset with ``presets apply``, posts the provider's own captured payloads (signed as the
provider signs them) to the ingest over HTTP, answers through the admin API, and runs the chat table's stream,
the evaluator, the dispatch queue and the dispatcher for real against a loopback server standing in for the
provider's send API:

* a reply goes out, the provider's receipts for it come in, and the reply reads ``delivered`` then ``read``
  (a late ``delivered`` after ``read`` changes nothing; a ``failed`` keeps the provider's reason);
* a message the business sent itself (an echo) is stored as an operator message and no request goes out;
* two members of one group are two authors in one chat named by the group's title;
* an edit changes the original message.

Payloads are ../shared/payloads (SOURCES.md there) and tests/fixtures/captures (SOURCES.md there). Where a
capture lacks what the test needs (the id the send call answered, a second group member), the change is made
here, next to a comment saying what changed and why.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time

import boto3
import pytest
from test_presets_replies import SECRET_VALUES, apply_preset, get, post_signed, request

from chatbridge.repository import secrets
from support.paths import FIXTURES, PAYLOADS
from support.pipeline import Pipeline
from support.presets import DIRECTORY
from support.provider_server import ProviderServer

CAPTURES = FIXTURES / "captures"


@pytest.fixture
def provider():
    server = ProviderServer()
    yield server
    server.stop()


class Trip:
    """One preset applied against the loopback provider: post what the provider posts, reply as an operator."""

    def __init__(self, endpoint: str, provider: ProviderServer, name: str):
        self.endpoint, self.provider, self.name = endpoint, provider, name
        self.identifier = f"{name}-inbound"
        apply_preset(endpoint, name, self.identifier, base_url=f"{provider.url}/api")
        rest_api = get(endpoint, f"/admin/rest-apis/{self.identifier}-send")
        for secret in set(re.findall(r"\{\{ssm:(/chatbridge/[^}]+)\}\}", json.dumps(rest_api))):
            boto3.client("ssm").put_parameter(Name=secret, Value=SECRET_VALUES[secret.rsplit("/", 1)[1]],
                                              Type="SecureString", Overwrite=True)
        self.spec = get(endpoint, f"/admin/incoming-webhooks/{self.identifier}")
        self.pipeline = Pipeline(os.environ["CHAT_TABLE"], os.environ["DISPATCH_QUEUE_URL"])

    def post(self, payload) -> dict:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        status, answer = post_signed(self.endpoint, self.spec, body)
        assert status == 200, answer
        self.pipeline.pump()
        return answer

    def reply(self, chat_id: int, text: str, answer: dict, status: int = 200) -> dict:
        """An operator's reply, sent by the pipeline to the provider, which answers ``answer``."""
        self.provider.answer = (status, answer)
        code, _ = request(self.endpoint, "POST", f"/admin/chats/{chat_id}/messages", {"msg": text, "user_id": 1})
        assert code in (200, 201)
        self.pipeline.pump()
        reply = self.messages(chat_id)[-1]
        assert reply["msg"] == text and reply["delivery"] == "sent", reply
        return reply

    def messages(self, chat_id: int) -> list[dict]:
        return get(self.endpoint, f"/admin/chats/{chat_id}/messages")["messages"]

    def chat(self, chat_id: int) -> dict:
        return get(self.endpoint, f"/admin/chats/{chat_id}")


@pytest.fixture
def trip(template_api, provider, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")  # the provider stand-in is on loopback
    secrets.forget_secrets()
    return lambda name: Trip(template_api, provider, name)


def sample(name: str, file: str):
    path = PAYLOADS / DIRECTORY[name] / file
    return path.read_bytes() if path.suffix == ".txt" else json.loads(path.read_bytes())


def capture(file: str):
    return json.loads((CAPTURES / file).read_bytes())


def delivery_of(trip: Trip, chat_id: int, message_id: int) -> str:
    return next(m for m in trip.messages(chat_id) if m["id"] == message_id)["delivery"]


# -- receipts: a reply goes out, the provider's receipts for it come in ---------------------------------------

def test_whatsapp_cloud_reply_reads_delivered_then_read_and_a_late_delivered_changes_nothing(trip):
    wa = trip("whatsapp-cloud")
    # courier's hello, not pywa's text: pywa's text message and its status samples share the id wamid.xyzxyz
    [chat_id] = wa.post(sample("whatsapp-cloud", "courier_hello.json"))["chats"]
    # the Graph API answers with the id pywa's status samples carry, so they are the receipts of this reply
    reply = wa.reply(chat_id, "Your order shipped", {"messaging_product": "whatsapp",
                                                     "contacts": [{"input": "972987654321", "wa_id": "972987654321"}],
                                                     "messages": [{"id": "wamid.xyzxyz"}]})
    assert reply["provider_message_id"] == "wamid.xyzxyz"
    assert wa.post(sample("whatsapp-cloud", "pywa_status_delivered.json"))["receipts"] == {
        "applied": 1, "unmatched": 0, "stale": 0}
    assert delivery_of(wa, chat_id, reply["id"]) == "delivered"
    wa.post(sample("whatsapp-cloud", "pywa_status_read.json"))
    assert delivery_of(wa, chat_id, reply["id"]) == "read"
    late = wa.post(sample("whatsapp-cloud", "pywa_status_delivered.json"))
    assert late["receipts"] == {"applied": 0, "unmatched": 0, "stale": 1}
    assert delivery_of(wa, chat_id, reply["id"]) == "read"
    assert len(wa.provider.received) == 1  # receipts fire no reply


def test_whatsapp_cloud_failed_status_marks_the_reply_failed_with_metas_reason(trip):
    wa = trip("whatsapp-cloud")
    [chat_id] = wa.post(sample("whatsapp-cloud", "courier_hello.json"))["chats"]
    reply = wa.reply(chat_id, "Are you there?", {"messaging_product": "whatsapp", "messages": [{"id": "wamid.xyzxyz"}]})
    wa.post(sample("whatsapp-cloud", "pywa_status_failed.json"))
    assert delivery_of(wa, chat_id, reply["id"]) == "failed"
    [delivery] = get(wa.endpoint, f"/admin/deliveries?chat_id={chat_id}")["deliveries"]
    assert delivery["status"] == "failed"
    assert delivery["error"] == ("the provider reported it failed: Failed to send message because this user's "
                                 "phone number is part of an experiment")


def test_a_receipt_for_no_reply_of_ours_is_counted_and_ignored(trip):
    wa = trip("whatsapp-cloud")
    answer = wa.post(sample("whatsapp-cloud", "pywa_status_read.json"))
    assert answer["receipts"] == {"applied": 0, "unmatched": 1, "stale": 0} and answer["chats"] == []


def test_twilio_reply_reads_delivered_then_read_from_its_status_callbacks(trip):
    tw = trip("twilio")
    [chat_id] = tw.post(sample("twilio", "courier_waReceiveValid.txt"))["chats"]
    reply = tw.reply(chat_id, "On its way", {"sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued"},
                     status=201)
    assert reply["provider_message_id"] == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    for file, state in (("courier_statusValid.txt", "delivered"), ("courier_statusRead.txt", "read")):
        # courier's status samples share one MessageSid with its inbound samples; here it is the reply's sid
        callback = sample("twilio", file).replace(b"SMe287d7109a5a925f182f0e07fe5b223b",
                                                  b"SM1f0e8ae6ade43cb3c0ce4525424e404f")
        tw.post(callback)
        assert delivery_of(tw, chat_id, reply["id"]) == state


def test_viber_reply_reads_delivered_then_read(trip):
    vb = trip("viber")
    [chat_id] = vb.post(sample("viber", "courier_validMsg.json"))["chats"]
    # send_message answers the message_token courier's receipt samples carry
    reply = vb.reply(chat_id, "Thanks!", {"status": 0, "status_message": "ok", "message_token": 4912661846655238145})
    assert reply["provider_message_id"] == "4912661846655238145"
    delivered = (PAYLOADS / "viber" / "courier_deliveredStatusReport.json").read_bytes()
    vb.post(delivered)
    assert delivery_of(vb, chat_id, reply["id"]) == "delivered"
    vb.post(delivered.replace(b'"delivered"', b'"seen"'))  # Viber's read receipt is the same callback, event seen
    assert delivery_of(vb, chat_id, reply["id"]) == "read"


def test_messenger_reply_reads_delivered_by_its_mid_then_read_by_the_watermark(trip):
    ms = trip("messenger")
    [chat_id] = ms.post(sample("messenger", "courier_hello_msg.json"))["chats"]
    reply = ms.reply(chat_id, "Hello back", {"recipient_id": "5678", "message_id": "mid.1458668856218:ed81099e15d3f4f233"})
    ms.post(sample("messenger", "courier_dlr.json"))
    assert delivery_of(ms, chat_id, reply["id"]) == "delivered"
    # Meta's message_reads event is courier's delivery sample with `read` (a watermark, no mids) for `delivery`
    read = sample("messenger", "courier_dlr.json")
    event = read["entry"][0]["messaging"][0]
    del event["delivery"]
    event["read"] = {"watermark": int(time.time() * 1000) + 1000, "seq": 38}
    assert ms.post(read)["receipts"]["applied"] == 1
    assert delivery_of(ms, chat_id, reply["id"]) == "read"


def test_open_wa_reply_reads_delivered_then_read_from_its_acks(trip):
    wa = trip("open-wa")
    [chat_id] = wa.post(sample("open-wa", "openwa_v5docs_incoming_text.json"))["chats"]
    reply = wa.reply(chat_id, "Ready at 5", {"success": True, "response": "true_447700900000@c.us_3EB0"})
    assert reply["provider_message_id"] == "true_447700900000@c.us_3EB0"
    # an onAck event carries the sent message (here the docs' sample message as sent by us, with our id)
    sent = {**sample("open-wa", "openwa_v5docs_incoming_text.json"), "id": "true_447700900000@c.us_3EB0",
            "fromMe": True, "from": "15551234567@c.us", "to": "447700900000@c.us", "body": "Ready at 5"}
    for ack, state in ((2, "delivered"), (3, "read")):
        wa.post({"event": "onAck", "sessionId": "session", "data": {**sent, "ack": ack}})
        assert delivery_of(wa, chat_id, reply["id"]) == state
    assert len(wa.messages(chat_id)) == 2 and len(wa.provider.received) == 1


# -- echoes: messages the business sent itself --------------------------------------------------------------

def operator_messages(trip: Trip, chat_id: int) -> list[dict]:
    return [m for m in trip.messages(chat_id) if m["user_id"] == -2]


def test_whatsapp_cloud_echo_is_an_operator_message_and_no_request_goes_out(trip):
    wa = trip("whatsapp-cloud")
    [chat_id] = wa.post(sample("whatsapp-cloud", "pywa_text.json"))["chats"]
    echo = capture("whatsapp_pywa_message_echo_text.json")
    # pywa keeps Meta's placeholders; the recipient is the visitor whose chat exists (its contacts' wa_id)
    echo["entry"][0]["changes"][0]["value"]["message_echoes"][0]["to"] = "972987654321"
    assert wa.post(echo)["chats"] == [chat_id]
    [message] = operator_messages(wa, chat_id)
    assert (message["msg"], message["name_support"], message["delivery"]) == ("Test message", "WhatsApp", None)
    assert "author" not in message  # the echo's contacts are the visitor, not who wrote it
    assert wa.provider.received == []  # no reply webhook fired: no loop


def test_an_echo_never_starts_a_chat(trip):
    wa = trip("whatsapp-cloud")
    answer = wa.post(capture("whatsapp_pywa_message_echo_text.json"))
    assert answer["chats"] == [] and answer["messages"] == 0
    assert answer["skipped"] == 1
    assert get(wa.endpoint, f"/admin/chats?incoming={wa.identifier}")["chats"] == []


def test_messenger_echo_is_an_operator_message_and_the_echo_of_our_reply_is_no_second_message(trip):
    ms = trip("messenger")
    [chat_id] = ms.post(sample("messenger", "courier_hello_msg.json"))["chats"]
    echo = sample("messenger", "courier_echo.json")
    event = echo["entry"][0]["messaging"][0]
    # Meta sends an echo from the page to the visitor; courier's sample has the two the other way round
    event["sender"], event["recipient"] = event["recipient"], event["sender"]
    ms.post(echo)
    [message] = operator_messages(ms, chat_id)
    assert message["msg"] == "[unsupported: unknown]" and message["message_id"] == "qT7ywaK"
    reply = ms.reply(chat_id, "We open at 9", {"recipient_id": "5678", "message_id": "m_reply_1"})
    own = copy.deepcopy(echo)
    own["entry"][0]["messaging"][0]["message"] = {"is_echo": True, "mid": "m_reply_1", "text": "We open at 9"}
    assert ms.post(own)["duplicates"] == 1
    assert [m["id"] for m in ms.messages(chat_id)] == [1, message["id"], reply["id"]]
    assert len(ms.provider.received) == 1


def openwa_group_message(author: str, name: str, id_suffix: str, body: str) -> dict:
    """The docs' group sample (an outgoing fromMe message) as a member's message: fromMe false, from the group,
    the member as author, and the `chat` open-wa sends with a message (its group subject)."""
    message = sample("open-wa", "openwa_v5docs_outgoing_group_fromMe.json")
    message.update(fromMe=False, self="in", id=f"false_120363025814912345@g.us_{id_suffix}", body=body,
                   **{"from": "120363025814912345@g.us", "to": "15551234567@c.us", "author": author},
                   sender={"id": author, "pushname": name}, chat={"formattedTitle": "Launch team"})
    return message


def test_open_wa_group_members_are_authors_in_one_chat_and_its_own_message_is_an_operator_message(trip):
    wa = trip("open-wa")
    [chat_id] = wa.post(openwa_group_message("447700900001@c.us", "Aisha", "A1", "Who has the notes?"))["chats"]
    assert wa.post(openwa_group_message("447700900002@c.us", "Ben", "B2", "Not me"))["chats"] == [chat_id]
    assert wa.post(sample("open-wa", "openwa_v5docs_outgoing_group_fromMe.json"))["chats"] == [chat_id]  # verbatim
    chat = wa.chat(chat_id)
    assert (chat["nick"], chat["phone"], chat["incoming_chat"]["chat_type"]) == ("Launch team", None, "group")
    messages = wa.messages(chat_id)
    assert [(m["user_id"], m.get("author"), m["msg"]) for m in messages] == [
        (0, {"name": "Aisha", "id": "447700900001@c.us"}, "Who has the notes?"),
        (0, {"name": "Ben", "id": "447700900002@c.us"}, "Not me"),
        (-2, None, "I will post the notes here.")]  # the business's message shows its name_support instead
    assert wa.provider.received == []


# -- groups -------------------------------------------------------------------------------------------------

def test_telegram_supergroup_is_one_chat_named_by_its_title_with_two_authors(trip):
    tg = trip("telegram")
    first = capture("telegram_opsdroid_supergroup_message.json")
    second = copy.deepcopy(first)
    # a second member of the same supergroup: another `from`, the next message and update
    second["update_id"] += 1
    second["message"].update(message_id=32, text="hello all", **{"from": {"id": 200000, "is_bot": False,
                                                                           "first_name": "Ana"}})
    [chat_id] = tg.post(first)["chats"]
    assert tg.post(second)["chats"] == [chat_id]
    chat = tg.chat(chat_id)
    assert (chat["nick"], chat["phone"], chat["incoming_chat"]["chat_external_id"]) == (
        "Opsdroid-test Chat", None, "-10014170000")
    assert [(m["author"], m["msg"]) for m in tg.messages(chat_id)] == [
        ({"name": "Fabio", "id": "100000"}, "hi"), ({"name": "Ana", "id": "200000"}, "hello all")]
    reply = tg.reply(chat_id, "Welcome both", {"ok": True, "result": {"message_id": 33, "chat": {"id": -10014170000}}})
    assert tg.provider.received[-1].json()["chat_id"] == "-10014170000"
    assert reply["provider_message_id"] == "33"


def test_whatsapp_cloud_group_message_makes_the_groups_own_chat_and_the_reply_goes_to_the_group(trip):
    wa = trip("whatsapp-cloud")
    group = sample("whatsapp-cloud", "courier_group_message.json")
    other = copy.deepcopy(group)
    # a second member of group 555555555: another sender, name and message id
    value = other["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Ana Lima"}, "wa_id": "9999"}]
    value["messages"][0].update(id="external_id_2", text={"body": "Me too"}, **{"from": "9999"})
    [chat_id] = wa.post(group)["chats"]
    assert wa.post(other)["chats"] == [chat_id]
    chat = wa.chat(chat_id)
    assert (chat["incoming_chat"]["chat_external_id"], chat["phone"], chat["incoming_chat"]["chat_type"]) == (
        "555555555", None, "group")
    assert [m["author"] for m in wa.messages(chat_id)] == [{"name": "Kerry Fisher", "id": "5678"},
                                                           {"name": "Ana Lima", "id": "9999"}]
    wa.reply(chat_id, "Noted", {"messaging_product": "whatsapp", "messages": [{"id": "wamid.group1"}]})
    sent = wa.provider.received[-1].json()
    assert (sent["recipient_type"], sent["to"]) == ("group", "555555555")


# -- edits --------------------------------------------------------------------------------------------------

def test_telegram_edited_message_changes_the_original_and_fires_chat_message_edited(trip):
    tg = trip("telegram")
    # an outgoing webhook on the edit event, to the loopback provider: proves the event fires once
    request(tg.endpoint, "PUT", "/admin/webhooks/edits", {
        "event": "chat.message_edited", "rest_api_id": f"{tg.identifier}-send", "enabled": True,
        "conditions": ["{args.chat.incoming_chat.incoming.identifier} = telegram-inbound"]})
    tg.provider.answer = (200, {"ok": True, "result": {"message_id": 2000}})
    [chat_id] = tg.post(capture("telegram_docs_message.json"))["chats"]
    answer = tg.post(capture("telegram_docs_edited_message.json"))
    assert answer["edits"] == 1 and answer["messages"] == 0
    [message] = tg.messages(chat_id)
    assert (message["msg"], message["edited_at"], message["history"]) == (
        "Edited text", 1441646600, [{"msg": "/start", "time": 1441645532}])
    assert [r.json()["text"] for r in tg.provider.received] == ["Edited text"]
    again = tg.post(capture("telegram_docs_edited_message.json"))  # Telegram retries the same update
    assert again["duplicates"] == 1 and "edits" not in again and len(tg.provider.received) == 1


def test_whatsapp_cloud_edit_changes_the_original(trip):
    wa = trip("whatsapp-cloud")
    edit = capture("whatsapp_pywa_edit_image.json")
    original = sample("whatsapp-cloud", "pywa_text.json")
    # the message the edit names: pywa's text sample under the edit's original_message_id, from its sender
    message = original["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update(id=edit["entry"][0]["changes"][0]["value"]["messages"][0]["edit"]["original_message_id"],
                   **{"from": "16505551234"})
    [chat_id] = wa.post(original)["chats"]
    assert wa.post(edit)["edits"] == 1
    [stored] = wa.messages(chat_id)
    assert (stored["msg"], stored["history"][0]["msg"]) == ("Updated image caption", "Body Text")


def test_whatsapp_cloud_reaction_is_stored_on_its_message_and_taken_off_again(trip):
    wa = trip("whatsapp-cloud")
    reaction = capture("whatsapp_pywa_reaction.json")
    original = sample("whatsapp-cloud", "pywa_text.json")
    # the message reacted to: pywa's text sample under the id the reaction names
    original["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.yzxyzx="
    [chat_id] = wa.post(original)["chats"]
    assert wa.post(reaction)["reactions"] == {"applied": 1, "unmatched": 0}
    [stored] = wa.messages(chat_id)
    assert stored["reactions"] == [{"reaction": "\U0001f62e", "author": {"name": "Test Name", "id": "972987654321"},
                                    "time": 1697044456}]
    wa.post(capture("whatsapp_pywa_unreaction_empty.json"))
    assert wa.messages(chat_id)[0]["reactions"] == []


def test_whatsapp_cloud_unsupported_message_is_kept_as_a_labelled_placeholder(trip):
    wa = trip("whatsapp-cloud")
    [chat_id] = wa.post(capture("whatsapp_pywa_unsupported.json"))["chats"]
    assert [m["msg"] for m in wa.messages(chat_id)] == ["[unsupported: pool]"]


def test_messenger_edit_changes_the_original_and_a_reaction_lands_on_it(trip):
    ms = trip("messenger")
    hello = sample("messenger", "courier_hello_msg.json")
    [chat_id] = ms.post(hello)["chats"]
    # Meta's message_edits and message_reactions events (the shapes of its webhook reference), on courier's
    # hello: same page, sender and mid, with `message_edit` / `reaction` in place of `message`
    edit, reaction = copy.deepcopy(hello), copy.deepcopy(hello)
    for payload, field, value in (
            (edit, "message_edit", {"mid": "external_id", "text": "Hello World (typo fixed)", "num_edit": 1}),
            (reaction, "reaction", {"reaction": "love", "emoji": "\u2764\ufe0f", "action": "react",
                                    "mid": "external_id"})):
        event = payload["entry"][0]["messaging"][0]
        del event["message"]
        event[field] = value
    assert ms.post(edit)["edits"] == 1
    assert ms.post(reaction)["reactions"] == {"applied": 1, "unmatched": 0}
    [message] = ms.messages(chat_id)
    assert (message["msg"], message["history"][0]["msg"]) == ("Hello World (typo fixed)", "Hello World")
    assert [r["reaction"] for r in message["reactions"]] == ["\u2764\ufe0f"]


def test_telegram_message_reaction_lands_on_its_message_in_the_same_chat(trip):
    tg = trip("telegram")
    hello = sample("telegram", "courier_helloMsg.json")
    [chat_id] = tg.post(hello)["chats"]
    # a MessageReactionUpdated as the Bot API reference defines it, on courier's hello (its chat and message id)
    message = hello["message"]
    reaction = {"update_id": hello["update_id"] + 1, "message_reaction": {
        "chat": message["chat"], "message_id": message["message_id"], "user": message["from"], "date": 1454119100,
        "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "\U0001f44d"}]}}
    assert tg.post(reaction)["reactions"] == {"applied": 1, "unmatched": 0}
    [stored] = tg.messages(chat_id)
    assert stored["reactions"] == [{"reaction": "\U0001f44d", "author": {"name": "Nic", "id": "3527065"},
                                    "time": 1454119100}]
    reaction["message_reaction"].update(old_reaction=reaction["message_reaction"]["new_reaction"], new_reaction=[])
    tg.post(reaction)
    assert tg.messages(chat_id)[0]["reactions"] == []
