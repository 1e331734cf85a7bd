"""Draft from payload: on every provider's real sample, the proposed spec is valid and maps the sample's
message (chat id, sender, text or image) without anyone describing the provider first."""

from __future__ import annotations

import pytest

from chatbridge.ingest.payload import decode_body
from chatbridge.spec.drafts import draft_spec
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from support.paths import PAYLOADS

SAMPLES = [  # file, chat id, nick, kind, text in the body
    ("openwa/openwa_v5docs_incoming_text.json", "447700900000@c.us", "Aisha", "text", "Hi, is my order ready?"),
    ("openwa/openwa_v5docs_webhook_envelope_message_received.json", "1234567890@c.us", None, "text", "I need help"),
    ("whatsapp_cloud/courier_hello.json", "5678", "Kerry Fisher", "text", "Hello World"),
    ("whatsapp_cloud/courier_image.json", "5678", "Kerry Fisher", "image", "Check out my new phone!"),
    ("telegram/courier_helloMsg.json", "3527065", "Nic Pottier", "text", "Hello World"),
    ("telegram/courier_photoMsg.json", "3527065", "Nic Pottier", "image", "[image "),
    ("viber/courier_validMsg.json", "xy5/5y6O81+/kbWHpLhBoA==", "ET3", "text", "incoming msg"),
    ("messenger/courier_hello_msg.json", "5678", None, "text", "Hello World"),
    ("twilio/courier_receiveValid.txt", "+14133881111", None, "text", "Msg"),
]


def _payload(name):
    raw = (PAYLOADS / name).read_text(encoding="utf-8")
    return decode_body(raw, content_type="application/x-www-form-urlencoded" if name.endswith(".txt")
                       else "application/json")


@pytest.mark.parametrize("name, chat_id, nick, kind, text", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_a_draft_from_a_real_sample_is_a_valid_spec_that_maps_its_message(name, chat_id, nick, kind, text):
    payload = _payload(name)
    draft = draft_spec(payload, identifier="draft-test", name="Draft")
    spec = IncomingWebhookSpec.model_validate(draft.spec)
    result = map_payload(spec, payload)
    assert result.accepted and len(result.chats) == 1, (draft.spec, result)
    chat = result.chats[0]
    assert chat.chat_external_id == chat_id
    if nick:
        assert chat.nick == nick
    message = chat.messages[0]
    assert message.kind == kind and text in message.body
    assert draft.notes and any(note.startswith("messages") for note in draft.notes)


def test_a_payload_with_nothing_message_like_still_drafts_a_valid_spec_and_says_so():
    draft = draft_spec({"ping": True, "count": 3})
    IncomingWebhookSpec.model_validate(draft.spec)
    assert "no part of the payload looks like a message" in draft.notes[0]


def test_a_huge_payload_is_walked_only_so_far():
    nested = {"messages": [{"id": str(i), "from": f"u{i}", "text": f"m{i}"} for i in range(10_000)]}
    draft = draft_spec(nested)
    assert draft.spec["messages"] == "messages" and draft.spec["chat_id"] == "from"
