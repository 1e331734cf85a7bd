"""Sample payloads of shapes no preset covers, mapped with the hand-written specs in tests/specs.

Every provider a preset covers is tested through its preset (tests/providers/test_presets.py: the one
canonical spec per provider); the samples of the others (Vonage) need an expectation here, so nobody adds a
provider payload without saying what chatbridge should make of it. The v5-envelope spec shows the
language reaching into an envelope without the preset's alternatives.
"""

import json

import pytest

from chatbridge.ingest.payload import decode_body
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from support.paths import PAYLOADS, SPECS
from support.presets import DIRECTORY, spec_of

FORM = "application/x-www-form-urlencoded"

# file -> spec, then either ("ignored", reason prefix), ("skipped", reason prefix) or
# ("accepted", kind, chat id, nick, phone, body, message_id, time)
EXPECTED = {
    "openwa/openwa_v5docs_webhook_envelope_message_received.json": (
        "openwa_v5_envelope", "accepted", "text", "1234567890@c.us", "1234567890", "1234567890",
        "Hello, I need help with my order", "false_1234567890@c.us_ABC123", 1700000000),
    "vonage/courier_nexmo_sms_inbound_form.txt": ("vonage", "accepted", "text", "2349067554729", "Visitor",
                                                  "2349067554729", "Join", "external1", None),
    "vonage/courier_nexmo_sms_dlr_querystring.txt": ("vonage", "ignored", "general conditions not met: 'msisdn"),
}


def sample_files():
    assert PAYLOADS.is_dir(), f"sample payloads missing: expected {PAYLOADS} beside the checkout"
    return sorted(str(path.relative_to(PAYLOADS)) for path in PAYLOADS.glob("*/*") if path.suffix in (".json", ".txt"))


def load(name):
    path = PAYLOADS / name
    content_type = FORM if path.suffix == ".txt" else "application/json"
    return decode_body(path.read_bytes(), content_type=content_type)


def spec(name):
    return IncomingWebhookSpec.model_validate_json((SPECS / f"{name}.json").read_text())


def test_every_sample_payload_no_preset_covers_has_an_expectation():
    files = sample_files()
    assert len(files) >= 40
    no_preset = {name for name in files if name.split("/")[0] not in DIRECTORY.values()}
    assert no_preset and no_preset <= set(EXPECTED), "update EXPECTED for new or removed samples"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_payload_maps_as_expected(name):
    spec_name, outcome, *details = EXPECTED[name]
    result = map_payload(spec(spec_name), load(name))
    if outcome == "ignored":
        assert not result.accepted and not result.chats
        assert result.reason.startswith(details[0]), result.reason
        return
    assert result.accepted, result.reason
    if outcome == "skipped":
        assert result.chats == []
        assert [s.index for s in result.skipped] == [0]
        assert result.skipped[0].reason.startswith(details[0])
        return
    kind, chat_id, nick, phone, body, message_id, time = details
    assert result.skipped == []
    [chat] = result.chats
    assert (chat.chat_external_id, chat.nick, chat.phone, chat.email) == (chat_id, nick, phone, None)
    first = chat.messages[0]
    assert (first.kind, first.body, first.message_id, first.time) == (kind, body, message_id, time)


def test_whatsapp_cloud_duplicate_delivery_yields_both_messages_with_one_id_for_the_ingest_to_dedup():
    result = map_payload(spec_of("whatsapp-cloud"), load("whatsapp_cloud/courier_duplicate.json"))
    [chat] = result.chats
    assert [(m.message_id, m.index) for m in chat.messages] == [("external_id", 0), ("external_id", 1)]


def test_viber_message_token_above_two_to_the_53_stays_exact():
    payload = load("viber/courier_validMsg.json")
    assert payload["message_token"] == 4987381189870374000
    [chat] = map_payload(spec_of("viber"), payload).chats
    assert chat.messages[0].message_id == "4987381189870374000"


def test_the_v5_envelope_spec_ignores_flat_messages_and_the_preset_takes_both():
    envelope = load("openwa/openwa_v5docs_webhook_envelope_message_received.json")
    flat = load("openwa/openwa_v5docs_incoming_text.json")
    assert not map_payload(spec("openwa_v5_envelope"), flat).accepted
    assert map_payload(spec_of("open-wa"), envelope).accepted and map_payload(spec_of("open-wa"), flat).accepted


@pytest.mark.parametrize("name", sorted(path.name for path in SPECS.glob("*.json")))
def test_provider_spec_round_trips_through_json(name):
    loaded = spec(name[:-5])
    again = IncomingWebhookSpec.model_validate_json(loaded.model_dump_json())
    assert again == loaded
    assert json.loads((SPECS / name).read_text())["identifier"] == loaded.identifier
