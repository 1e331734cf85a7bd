"""Provider presets: every sample payload of a provider through its preset's spec, and --set parameters.

Each payload file of a provider's directory in ../shared/payloads needs an expectation here, so a new
sample cannot arrive without saying what the preset makes of it. Receipts, statuses and echoes must come
out ignored (200 ``ignored``) or skipped, never as an error.
"""

import copy
import json

import pytest

from chatbridge.errors import PresetError
from chatbridge.presets import PRESETS, build, get_preset
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from support.paths import PAYLOADS
from support.presets import BASE, DIRECTORY, PARAMETERS, load, setup_of, spec_of

# (preset, file) -> ("ignored", reason prefix) | ("skipped", reason prefix) | (kind, chat id, nick, phone, body, id, time)
EXPECTED = {
    ("open-wa", "openwa_v5docs_incoming_text.json"): (
        "text", "447700900000@c.us", "Aisha", "447700900000", "Hi, is my order ready?",
        "false_447700900000@c.us_3EB0A1B2C3D4E5F67890", 1768848000),
    ("open-wa", "openwa_v5docs_incoming_image.json"): (
        "image", "447700900000@c.us", "447700900000", "447700900000",
        "Receipt from today\n[file={{file_url}}]", "false_447700900000@c.us_3EB09988776655443322",
        1768848240),
    ("open-wa", "openwa_v5docs_incoming_location.json"): (
        "text", "447700900000@c.us", "Aisha", "447700900000", "London https://maps.google.com/?q=51.5074,-0.1278",
        "false_447700900000@c.us_3EB01234ABCD5678EF90", 1768848360),
    ("open-wa", "openwa_v5docs_outgoing_group_fromMe.json"): ("ignored", "general conditions not met: 'fromMe"),
    ("open-wa", "openwa_v5docs_webhook_envelope_message_received.json"): (
        "text", "1234567890@c.us", "1234567890", "1234567890", "Hello, I need help with my order",
        "false_1234567890@c.us_ABC123", 1700000000),

    ("whatsapp-cloud", "pywa_text.json"): ("text", "972987654321", "Test Name", "972987654321", "Body Text",
                                           "wamid.xyzxyz", 1697043223),
    ("whatsapp-cloud", "courier_hello.json"): ("text", "5678", "Kerry Fisher", "5678", "Hello World", "external_id",
                                               1454119029),
    ("whatsapp-cloud", "courier_image.json"): ("image", "5678", "Kerry Fisher", "5678",
                                               "Check out my new phone!\n[file={{file_url}}]", "external_id",
                                               1454119029),
    ("whatsapp-cloud", "courier_document.json"): ("attachment", "5678", "Kerry Fisher", "5678",
                                                  "[document] 80skaraokesonglistartist\n[file={{file_url}}]", "external_id",
                                                  1454119029),
    ("whatsapp-cloud", "courier_group_message.json"): ("text", "5678", "Kerry Fisher", "5678",
                                                       "Hello World, group message", "external_id", 1454119029),
    ("whatsapp-cloud", "courier_duplicate.json"): ("text", "5678", "Kerry Fisher", "5678", "Hello World",
                                                   "external_id", 1454119029),
    **{("whatsapp-cloud", f"{name}.json"): ("ignored", "no messages at 'entry.0.changes.0.value.messages'")
       for name in ("courier_valid_status", "pywa_status_sent", "pywa_status_delivered", "pywa_status_read",
                    "pywa_status_failed", "pywa_status_group")},

    ("telegram", "courier_helloMsg.json"): ("text", "3527065", "Nic Pottier", None, "Hello World", None, 1454119029),
    ("telegram", "courier_startMsg.json"): ("text", "3527065", "Nic Pottier", None, "/start", None, 1454119029),
    ("telegram", "courier_photoMsg.json"): (
        "image", "3527065", "Nic Pottier", None,
        "Photo Caption\n[file={{file_url}}]", None, 1493843318),
    ("telegram", "courier_documentMsg.json"): ("attachment", "3527065", "Nic Pottier", None,
                                               "[file] TabFig2015prel.xls\n[file={{file_url}}]", None, 1493845100),
    ("telegram", "courier_voiceMsg.json"): ("attachment", "3527065", "Nic Pottier", None,
                                            "[file]\n[file={{file_url}}]", None, 1493844646),
    ("telegram", "courier_stickerMsg.json"): ("attachment", "3527065", "Nic Pottier", None,
                                              "[file]\n[file={{file_url}}]", None, 1454119668),
    ("telegram", "courier_locationMsg.json"): ("text", "3527065", "Nic Pottier", None,
                                               "https://maps.google.com/?q=-2.890287,-79.004333", None, 1493845244),
    ("telegram", "courier_contactMsg.json"): ("text", "3527065", "Nic Pottier", None, "Adolf Taxi 0788531373", None,
                                              1493845755),

    ("twilio", "courier_receiveValid.txt"): ("text", "+14133881111", "Visitor", "+14133881111", "Msg",
                                             "SMe287d7109a5a925f182f0e07fe5b223b", None),
    ("twilio", "courier_receiveMediaWithMsg.txt"): ("attachment", "+14133881111", "Visitor", "+14133881111",
                                                    "Msg dog.jpg\n[file={{file_url}}]", "SMe287d7109a5a925f182f0e07fe5b223b", None),
    ("twilio", "courier_receiveBase64.txt"): (
        "text", "+14133881111", "Visitor", "+14133881111",
        "QmFubm9uIEV4cGxhaW5zIFRoZSBXb3JsZCAuLi4K4oCcVGhlIENhbXAgb2YgdGhlIFNhaW50c+KA",
        "SMe287d7109a5a925f182f0e07fe5b223b", None),
    ("twilio", "courier_waReceiveValid.txt"): ("text", "whatsapp:+14133881111", "Visitor", "+14133881111", "Msg",
                                               "SMe287d7109a5a925f182f0e07fe5b223b", None),
    ("twilio", "courier_waReceiveButtonValid.txt"): ("text", "whatsapp:+14133881111", "Visitor", "+14133881111",
                                                     "Confirm", "SMe287d7109a5a925f182f0e07fe5b223b", None),
    **{("twilio", f"{name}.txt"): ("ignored", "general conditions not met: 'MessageStatus!=__exists__'")
       for name in ("courier_statusValid", "courier_statusRead", "courier_statusStop")},

    ("viber", "courier_validMsg.json"): ("text", "xy5/5y6O81+/kbWHpLhBoA==", "ET3", None, "incoming msg",
                                         "4987381189870374000", 1481142112),
    ("viber", "courier_validReceiveContact.json"): ("text", "xy5/5y6O81+/kbWHpLhBoA==", "ET3", None,
                                                    "Alex +12067799191", "4987381189870374000", 1481142112),
    ("viber", "courier_validReceiveLocation.json"): ("text", "xy5/5y6O81+/kbWHpLhBoA==", "ET3", None,
                                                     "https://maps.google.com/?q=1.2,-1.3", "4987381189870374000",
                                                     1481142112),
    ("viber", "courier_validSticker.json"): ("text", "xy5/5y6O81+/kbWHpLhBoA==", "ET3", None, "[sticker 40133]",
                                             "4987381189870374000", 1481142112),
    **{("viber", f"{name}.json"): ("ignored", "general conditions not met: 'event=message'")
       for name in ("courier_deliveredStatusReport", "courier_failedStatusReport", "courier_validConversationStarted",
                    "courier_validSubscribed", "courier_validUnsubscribed", "courier_webhookCheck")},

    ("messenger", "courier_hello_msg.json"): ("text", "5678", "Visitor", None, "Hello World", "external_id", 1459991487),
    ("messenger", "courier_attachment.json"): ("image", "5678", "Visitor", None, "[file={{file_url}}]",
                                               "external_id", 1459991487),
    ("messenger", "courier_location_attachment.json"): ("text", "5678", "Visitor", None,
                                                        "https://maps.google.com/?q=1.2,-1.3", "external_id", 1459991487),
    ("messenger", "courier_dlr.json"): ("skipped", "matched no message kind"),
    ("messenger", "courier_echo.json"): ("skipped", "matched no message kind"),
}


def only_message(result):
    assert result.accepted, result.reason
    assert result.skipped == []
    [chat] = result.chats
    return chat, chat.messages[0]


def test_every_preset_has_parameters_and_every_sample_of_its_provider_has_an_expectation():
    assert set(PRESETS) == set(PARAMETERS) == set(DIRECTORY)
    for name, directory in DIRECTORY.items():
        files = {path.name for path in (PAYLOADS / directory).iterdir() if path.suffix in (".json", ".txt")}
        assert files, f"no samples for {name}"
        assert files == {file for preset, file in EXPECTED if preset == name}, f"update EXPECTED for {name}"


@pytest.mark.parametrize("preset,file", sorted(EXPECTED))
def test_preset_maps_every_sample_payload_of_its_provider(preset, file):
    outcome = EXPECTED[(preset, file)]
    result = map_payload(spec_of(preset), load(DIRECTORY[preset], file))
    if outcome[0] == "ignored":
        assert not result.accepted and result.chats == [] and result.reason.startswith(outcome[1]), result.reason
        return
    if outcome[0] == "skipped":
        assert result.accepted and result.chats == []
        assert [s.reason[:len(outcome[1])] for s in result.skipped] == [outcome[1]]
        return
    kind, chat_id, nick, phone, body, message_id, time = outcome
    chat, first = only_message(result)
    assert (chat.chat_external_id, chat.nick, chat.phone) == (chat_id, nick, phone)
    assert (first.kind, first.body, first.message_id, first.time) == (kind, body, message_id, time)


def test_every_preset_covers_text_image_attachment_and_location():
    for name in PRESETS:
        spec = spec_of(name)
        assert spec.image is not None and spec.attachment is not None, name
        assert any("maps.google.com" in kind.body for kind in spec.text), name


def test_open_wa_reads_the_v4_data_envelope_and_refuses_its_own_messages_in_any_envelope():
    message = load("openwa", "openwa_v5docs_incoming_text.json")
    spec = spec_of("open-wa")
    v4 = {"event": "onMessage", "sessionId": "session", "data": message}
    chat, first = only_message(map_payload(spec, v4))
    assert (chat.chat_external_id, chat.nick, first.body) == ("447700900000@c.us", "Aisha", "Hi, is my order ready?")
    own = {**message, "fromMe": True}
    envelope = load("openwa", "openwa_v5docs_webhook_envelope_message_received.json")
    envelope["payload"]["message"]["fromMe"] = True
    for payload in (own, {"event": "onAck", "data": own}, envelope):
        result = map_payload(spec, payload)
        assert not result.accepted and "fromMe" in result.reason


def test_telegram_edited_message_is_a_new_message_marked_edited():
    update = load("telegram", "courier_helloMsg.json")
    edited = {"update_id": update["update_id"] + 1,
              "edited_message": {**update["message"], "text": "Hello World!", "edit_date": 1454119100}}
    chat, first = only_message(map_payload(spec_of("telegram"), edited))
    assert (chat.chat_external_id, first.body, first.time) == ("3527065", "(edited) Hello World!", 1454119100)
    assert first.message_id is None  # keyed on the update, so the ingest does not drop it as the original


def test_telegram_updates_without_a_message_are_ignored():
    result = map_payload(spec_of("telegram"), {"update_id": 9, "callback_query": {"id": "1", "data": "x"}})
    assert not result.accepted and result.reason.startswith("no messages at")


def test_twilio_image_and_whatsapp_location_have_their_own_kinds():
    base = load("twilio", "courier_waReceiveValid.txt")
    image = {**base, "NumMedia": "1", "MediaContentType0": "image/jpeg",
             "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "Body": "receipt"}
    _, first = only_message(map_payload(spec_of("twilio"), image))
    assert (first.kind, first.body, first.media.fetch.url) == ("image", "receipt\n[file={{file_url}}]",
                                                               image["MediaUrl0"])
    location = {**base, "Body": "", "Latitude": "51.5074", "Longitude": "-0.1278", "Address": "London"}
    _, first = only_message(map_payload(spec_of("twilio"), location))
    assert (first.kind, first.body) == ("text", "London https://maps.google.com/?q=51.5074,-0.1278")


def test_whatsapp_cloud_location_and_interactive_replies_become_text():
    payload = load("whatsapp_cloud", "pywa_text.json")
    value = payload["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    located = copy.deepcopy(payload)
    located["entry"][0]["changes"][0]["value"]["messages"] = [
        {**{k: message[k] for k in ("from", "id", "timestamp")}, "type": "location",
         "location": {"latitude": 51.5, "longitude": -0.12, "name": "Office"}},
        {**{k: message[k] for k in ("from", "timestamp")}, "id": "wamid.2", "type": "interactive",
         "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes please"}}}]
    [chat] = map_payload(spec_of("whatsapp-cloud"), located).chats
    assert [m.body for m in chat.messages] == ["Office https://maps.google.com/?q=51.5,-0.12", "Yes please"]


def test_messenger_postback_is_text_and_echoes_inside_a_batch_are_skipped_alone():
    hello = load("messenger", "courier_hello_msg.json")
    echo = load("messenger", "courier_echo.json")
    batch = copy.deepcopy(hello)
    postback = {"sender": {"id": "5678"}, "recipient": {"id": "1"}, "timestamp": 1459991487971,
                "postback": {"mid": "m2", "title": "Get started", "payload": "GET_STARTED"}}
    batch["entry"][0]["messaging"] = [echo["entry"][0]["messaging"][0], *hello["entry"][0]["messaging"], postback]
    result = map_payload(spec_of("messenger"), batch)
    assert [s.index for s in result.skipped] == [0]
    [chat] = result.chats
    assert [(m.body, m.message_id) for m in chat.messages] == [("Hello World", "external_id"), ("Get started", "m2")]


# media=off: the kinds name the file as text, as they did before media fetching, and need no fetch secrets
MEDIA_OFF = {
    ("open-wa", "openwa_v5docs_incoming_image.json"): "[image 8f2b5f7b4c0a1d2e3f4a5b6c7d8e9f00] Receipt from today",
    ("twilio", "courier_receiveMediaWithMsg.txt"): "Msg cat.jpg dog.jpg ",
    ("messenger", "courier_attachment.json"): "https://image-url/foo.png",
    ("whatsapp-cloud", "courier_image.json"): "[image id_image] Check out my new phone!",
    ("telegram", "courier_documentMsg.json"): "[file BQADAQADCgADgtFRRPrv9GQ95f8eAg] TabFig2015prel.xls",
}


def test_every_preset_that_can_fetch_media_does_so_by_default_and_only_from_its_media_kinds():
    fetching = {name for name in PRESETS if spec_of(name).image.fetch is not None}
    assert fetching == {"open-wa", "twilio", "viber", "messenger", "whatsapp-cloud", "telegram"}
    for name in fetching:
        spec = spec_of(name)
        assert spec.attachment.fetch is not None
        assert get_preset(name).parameter("media").default == "on"


@pytest.mark.parametrize("preset,file", sorted(MEDIA_OFF))
def test_media_off_names_the_file_as_text_and_fetches_nothing(preset, file):
    values = {"media": "off"} if get_preset(preset).parameter("media") else {}
    spec = IncomingWebhookSpec.model_validate(setup_of(preset, **values).incoming_webhook)
    assert spec.image.fetch is None and spec.attachment.fetch is None
    _, first = only_message(map_payload(spec, load(DIRECTORY[preset], file)))
    assert (first.body, first.media) == (MEDIA_OFF[(preset, file)], None)


def test_media_switch_takes_only_on_or_off():
    with pytest.raises(PresetError, match="parameter media='yes' is not valid"):
        setup_of("viber", media="yes")


def test_media_fetches_use_only_the_secrets_replies_already_need():
    for name in PRESETS:
        on, off = setup_of(name), setup_of(name, **({"media": "off"} if get_preset(name).parameter("media") else {}))
        assert on.ssm_secrets == off.ssm_secrets, name


# -- parameters -------------------------------------------------------------------------------------------

def test_missing_required_parameters_are_all_named_with_how_to_set_them():
    with pytest.raises(PresetError) as error:
        build(get_preset("whatsapp-cloud"), identifier="wa-cloud", values={"app_secret": "0123456789abcdef"},
              webhook_base=BASE)
    message = str(error.value)
    assert "missing required parameters" in message
    assert "phone_number_id (" in message and "verify_token (" in message and "app_secret (" not in message
    assert "--set phone_number_id=106540352242922" in message


@pytest.mark.parametrize("values,reason", [
    ({"tokn": "x"}, "has no parameter 'tokn'"),
    ({"token": "123456789:AAE0123456789abcdefghijklmnopqrstuv"}, "token is a secret: give the name of an SSM"),
    ({"base_url": "ftp://api.telegram.org"}, "parameter base_url="),
    ({"secret": 'a"b'}, "parameter secret="),
])
def test_unknown_or_malformed_parameters_are_refused_by_name(values, reason):
    with pytest.raises(PresetError, match=reason):
        setup_of("telegram", **values)


def test_unknown_preset_and_bad_identifier_are_refused():
    with pytest.raises(PresetError, match="no preset 'whatsapp'.*open-wa"):
        get_preset("whatsapp")
    with pytest.raises(PresetError, match="identifier 'a b'"):
        build(get_preset("telegram"), identifier="a b", values=PARAMETERS["telegram"], webhook_base=BASE)


def test_header_secrets_are_ssm_references_never_values():
    setup = setup_of("whatsapp-cloud")
    assert setup.rest_api["headers"]["Authorization"] == "Bearer {{ssm:/chatbridge/whatsapp-cloud-test/token}}"
    assert [(s.name, s.parameter) for s in setup.ssm_secrets] == [("/chatbridge/whatsapp-cloud-test/token", "token")]
    named = setup_of("whatsapp-cloud", token="ssm:/chatbridge/shared/wa-token")
    assert named.rest_api["headers"]["Authorization"] == "Bearer {{ssm:/chatbridge/shared/wa-token}}"
    assert setup_of("whatsapp-cloud", token="/chatbridge/x").ssm_secrets[0].name == "/chatbridge/x"
    with pytest.raises(PresetError, match="token is a secret: give the name of an SSM"):
        setup_of("whatsapp-cloud", token="EAAGm0PX4ZCpsBA")


def test_substituted_values_land_where_the_provider_expects_them():
    telegram = setup_of("telegram")
    assert telegram.rest_api["url"] == "https://api.telegram.org/bot{{ssm:/chatbridge/telegram-test/token}}/sendMessage"
    assert [s.name for s in telegram.ssm_secrets] == ["/chatbridge/telegram-test/token"]
    assert any("get-parameter --name /chatbridge/telegram-test/token" in step for step in telegram.setup)
    assert not any("{{ssm:" in step for step in telegram.setup)
    assert telegram.incoming_webhook["verification"]["shared_secret"]["value"] == "tg-secret"
    assert telegram.webhook_url == f"{BASE}/webhooks/incoming/telegram-test"
    assert any("secret_token='tg-secret'" in step for step in telegram.setup)
    openwa = setup_of("open-wa")
    assert openwa.rest_api["url"] == "https://wa.example.com/sendText"  # trailing slash dropped
    assert openwa.webhook_url == f"{BASE}/webhooks/incoming/open-wa-test?secret=open-wa-secret-0123456789"
    twilio = setup_of("twilio")
    assert twilio.incoming_webhook["verification"]["twilio"]["url"] == f"{BASE}/webhooks/incoming/twilio-test"
    assert twilio.rest_api["id"] == "twilio-test-send" and twilio.webhook_id == "twilio-test-replies"


def test_outgoing_webhook_fires_on_operator_messages_of_this_incoming_webhook_only():
    webhook = setup_of("viber").outgoing_webhook(42)
    assert webhook == {"id": "viber-test-replies", "event": "chat.web_add_msg_admin", "rest_api_id": "viber-test-send",
                       "conditions": ["{args.chat.iwh_id} = 42", "{args.file.url} empty"], "enabled": True}


def test_presets_round_trip_through_json_like_the_admin_api_stores_them():
    for name in PRESETS:
        setup = setup_of(name)
        assert json.loads(json.dumps(setup.incoming_webhook)) == setup.incoming_webhook
        assert IncomingWebhookSpec.model_validate_json(json.dumps(setup.incoming_webhook)) == spec_of(name)
