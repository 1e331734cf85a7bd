"""Every sample payload in ../shared/payloads mapped with the provider's spec in tests/specs.

Each file needs an expectation here: a new sample without one fails, so nobody adds a provider payload
without saying what chatbridge should make of it.
"""

import json

import pytest

from chatbridge.ingest.payload import decode_body
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from support.paths import PAYLOADS, SPECS

FORM = "application/x-www-form-urlencoded"

# file -> spec, then either ("ignored", reason prefix), ("skipped", reason prefix) or
# ("accepted", kind, chat id, nick, phone, body, message_id, time)
OPENWA = "openwa"
EXPECTED = {
    "openwa/openwa_v5docs_incoming_text.json": (OPENWA, "accepted", "text", "447700900000@c.us", "Aisha",
                                                "447700900000", "Hi, is my order ready?",
                                                "false_447700900000@c.us_3EB0A1B2C3D4E5F67890", 1768848000),
    "openwa/openwa_v5docs_incoming_image.json": (OPENWA, "accepted", "image", "447700900000@c.us", "447700900000",
                                                 "447700900000",
                                                 "[image 8f2b5f7b4c0a1d2e3f4a5b6c7d8e9f00] Receipt from today",
                                                 "false_447700900000@c.us_3EB09988776655443322", 1768848240),
    "openwa/openwa_v5docs_incoming_location.json": (OPENWA, "accepted", "text", "447700900000@c.us", "Aisha",
                                                    "447700900000",
                                                    "London https://maps.google.com/?q=51.5074,-0.1278",
                                                    "false_447700900000@c.us_3EB01234ABCD5678EF90", 1768848360),
    "openwa/openwa_v5docs_outgoing_group_fromMe.json": (OPENWA, "ignored", "general conditions not met: 'fromMe=false'"),
    "openwa/openwa_v5docs_webhook_envelope_message_received.json": (
        "openwa_v5_envelope", "accepted", "text", "1234567890@c.us", "1234567890", "1234567890",
        "Hello, I need help with my order", "false_1234567890@c.us_ABC123", 1700000000),

    "whatsapp_cloud/pywa_text.json": ("whatsapp_cloud", "accepted", "text", "972987654321", "Test Name",
                                      "972987654321", "Body Text", "wamid.xyzxyz", 1697043223),
    "whatsapp_cloud/courier_hello.json": ("whatsapp_cloud", "accepted", "text", "5678", "Kerry Fisher", "5678",
                                          "Hello World", "external_id", 1454119029),
    "whatsapp_cloud/courier_image.json": ("whatsapp_cloud", "accepted", "image", "5678", "Kerry Fisher", "5678",
                                          "[image id_image] Check out my new phone!", "external_id", 1454119029),
    "whatsapp_cloud/courier_document.json": ("whatsapp_cloud", "accepted", "attachment", "5678", "Kerry Fisher",
                                             "5678", "[document id_document] 80skaraokesonglistartist",
                                             "external_id", 1454119029),
    "whatsapp_cloud/courier_group_message.json": ("whatsapp_cloud", "accepted", "text", "5678", "Kerry Fisher",
                                                  "5678", "Hello World, group message", "external_id", 1454119029),
    "whatsapp_cloud/courier_duplicate.json": ("whatsapp_cloud", "accepted", "text", "5678", "Kerry Fisher", "5678",
                                              "Hello World", "external_id", 1454119029),
    **{f"whatsapp_cloud/{name}.json": ("whatsapp_cloud", "ignored", "no messages at 'entry.0.changes.0.value.messages'")
       for name in ("courier_valid_status", "pywa_status_sent", "pywa_status_delivered", "pywa_status_read",
                    "pywa_status_failed", "pywa_status_group")},

    "telegram/courier_helloMsg.json": ("telegram", "accepted", "text", "3527065", "Nic Pottier", None,
                                       "Hello World", "41", 1454119029),
    "telegram/courier_startMsg.json": ("telegram", "accepted", "text", "3527065", "Nic Pottier", None, "/start",
                                       "41", 1454119029),
    "telegram/courier_photoMsg.json": ("telegram", "accepted", "image", "3527065", "Nic Pottier", None,
                                       "[image AgADAQADtKcxG4LRUUQSQVUjfJIiiF8G6C8ABA9NJzFdXskaincBAAEC] Photo Caption",
                                       "85", 1493843318),
    "telegram/courier_documentMsg.json": ("telegram", "accepted", "attachment", "3527065", "Nic Pottier", None,
                                          "[file BQADAQADCgADgtFRRPrv9GQ95f8eAg] TabFig2015prel.xls", "92",
                                          1493845100),
    "telegram/courier_voiceMsg.json": ("telegram", "accepted", "attachment", "3527065", "Nic Pottier", None,
                                       "[file AwADAQADCQADgtFRRGn8KrC-0D_MAg] ", "91", 1493844646),
    "telegram/courier_stickerMsg.json": ("telegram", "accepted", "attachment", "3527065", "Nic Pottier", None,
                                         "[file BQADAwADRQADyIsGAAHtBskMy6GoLAI] ", "44", 1454119668),
    "telegram/courier_locationMsg.json": ("telegram", "accepted", "text", "3527065", "Nic Pottier", None,
                                          "https://maps.google.com/?q=-2.890287,-79.004333", "94", 1493845244),
    "telegram/courier_contactMsg.json": ("telegram", "accepted", "text", "3527065", "Nic Pottier", None,
                                         "Adolf Taxi 0788531373", "96", 1493845755),

    "twilio/courier_receiveValid.txt": ("twilio", "accepted", "text", "+14133881111", "Visitor", "+14133881111",
                                        "Msg", "SMe287d7109a5a925f182f0e07fe5b223b", None),
    "twilio/courier_receiveMediaWithMsg.txt": ("twilio", "accepted", "attachment", "+14133881111", "Visitor",
                                               "+14133881111", "Msg cat.jpg dog.jpg",
                                               "SMe287d7109a5a925f182f0e07fe5b223b", None),
    "twilio/courier_receiveBase64.txt": ("twilio", "accepted", "text", "+14133881111", "Visitor", "+14133881111",
                                         "QmFubm9uIEV4cGxhaW5zIFRoZSBXb3JsZCAuLi4K4oCcVGhlIENhbXAgb2YgdGhlIFNhaW50c+KA",
                                         "SMe287d7109a5a925f182f0e07fe5b223b", None),
    "twilio/courier_waReceiveValid.txt": ("twilio", "accepted", "text", "whatsapp:+14133881111", "Visitor",
                                          "+14133881111", "Msg", "SMe287d7109a5a925f182f0e07fe5b223b", None),
    "twilio/courier_waReceiveButtonValid.txt": ("twilio", "accepted", "text", "whatsapp:+14133881111", "Visitor",
                                                "+14133881111", "Confirm", "SMe287d7109a5a925f182f0e07fe5b223b", None),
    **{f"twilio/{name}.txt": ("twilio", "ignored", "general conditions not met: 'MessageStatus!=__exists__'")
       for name in ("courier_statusValid", "courier_statusRead", "courier_statusStop")},

    "viber/courier_validMsg.json": ("viber", "accepted", "text", "xy5/5y6O81+/kbWHpLhBoA==", "ET3", None,
                                    "incoming msg", "4987381189870374000", 1481142112),
    "viber/courier_validReceiveContact.json": ("viber", "accepted", "text", "xy5/5y6O81+/kbWHpLhBoA==", "ET3", None,
                                               "Alex +12067799191", "4987381189870374000", 1481142112),
    "viber/courier_validReceiveLocation.json": ("viber", "accepted", "text", "xy5/5y6O81+/kbWHpLhBoA==", "ET3",
                                                None, "https://maps.google.com/?q=1.2,-1.3", "4987381189870374000",
                                                1481142112),
    "viber/courier_validSticker.json": ("viber", "accepted", "attachment", "xy5/5y6O81+/kbWHpLhBoA==", "ET3", None,
                                        "[sticker 40133]", "4987381189870374000", 1481142112),
    **{f"viber/{name}.json": ("viber", "ignored", "general conditions not met: 'event=message'")
       for name in ("courier_deliveredStatusReport", "courier_failedStatusReport", "courier_validConversationStarted",
                    "courier_validSubscribed", "courier_validUnsubscribed", "courier_webhookCheck")},

    "messenger/courier_hello_msg.json": ("messenger", "accepted", "text", "5678", "Visitor", None, "Hello World",
                                         "external_id", 1459991487),
    "messenger/courier_attachment.json": ("messenger", "accepted", "image", "5678", "Visitor", None,
                                          "https://image-url/foo.png", "external_id", 1459991487),
    "messenger/courier_location_attachment.json": ("messenger", "accepted", "text", "5678", "Visitor", None,
                                                   "https://maps.google.com/?q=1.2,-1.3", "external_id", 1459991487),
    "messenger/courier_dlr.json": ("messenger", "skipped", "matched no message kind"),
    "messenger/courier_echo.json": ("messenger", "skipped", "matched no message kind"),

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


def test_every_sample_payload_has_an_expectation():
    files = sample_files()
    assert len(files) >= 40
    assert set(files) == set(EXPECTED), "update EXPECTED for new or removed samples"


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
    result = map_payload(spec("whatsapp_cloud"), load("whatsapp_cloud/courier_duplicate.json"))
    [chat] = result.chats
    assert [(m.message_id, m.index) for m in chat.messages] == [("external_id", 0), ("external_id", 1)]


def test_viber_message_token_above_two_to_the_53_stays_exact():
    payload = load("viber/courier_validMsg.json")
    assert payload["message_token"] == 4987381189870374000
    [chat] = map_payload(spec("viber"), payload).chats
    assert chat.messages[0].message_id == "4987381189870374000"


def test_openwa_flat_spec_ignores_the_v5_envelope_and_envelope_spec_ignores_flat_messages():
    envelope = load("openwa/openwa_v5docs_webhook_envelope_message_received.json")
    flat = load("openwa/openwa_v5docs_incoming_text.json")
    assert map_payload(spec("openwa"), envelope).reason == "general conditions not met: 'fromMe=false' does not hold"
    assert not map_payload(spec("openwa_v5_envelope"), flat).accepted


@pytest.mark.parametrize("name", sorted(path.name for path in SPECS.glob("*.json")))
def test_provider_spec_round_trips_through_json(name):
    loaded = spec(name[:-5])
    again = IncomingWebhookSpec.model_validate_json(loaded.model_dump_json())
    assert again == loaded
    assert json.loads((SPECS / name).read_text())["identifier"] == loaded.identifier
