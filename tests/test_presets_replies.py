"""Each preset's reply REST API, rendered from a stored chat and an operator message and sent for real to a
local HTTP server standing in for the provider (the dispatcher's own render and send functions)."""

import base64
import json
import re
from urllib.parse import parse_qs

import pytest
from werkzeug import Response

from chatbridge.dispatch import send
from chatbridge.mapping import map_payload
from chatbridge.outgoing import build_args
from chatbridge.presets import build, get_preset
from chatbridge.rest_api import RestApi, context_for
from chatbridge.spec import IncomingWebhookSpec
from test_presets import DIRECTORY, PARAMETERS, load

OPERATOR_TEXT = 'Shipped "today" \u2714 [url=https://shop.example/o/1]track it[/url]'
SENT_TEXT = 'Shipped "today" \u2714 https://shop.example/o/1'
SECRETS = {"token": "EAAG-access-token", "api_key": "openwa-key", "basic_auth": base64.b64encode(b"AC1:tok").decode()}
# preset -> a sample whose chat the operator answers
FIRST_MESSAGE = {"open-wa": "openwa_v5docs_incoming_text.json", "whatsapp-cloud": "pywa_text.json",
                 "telegram": "courier_helloMsg.json", "twilio": "courier_waReceiveValid.txt",
                 "viber": "courier_validMsg.json", "messenger": "courier_hello_msg.json"}


def reply_to_sample(name, httpserver, text=OPERATOR_TEXT):
    """Build the preset against the local server, map its sample, and send an operator reply for that chat."""
    setup = build(get_preset(name), identifier=f"{name}-test",
                  values={**PARAMETERS[name], "base_url": httpserver.url_for("/api")}, webhook_base="https://x.test")
    spec = IncomingWebhookSpec.model_validate(setup.incoming_webhook)
    payload = load(DIRECTORY[name], FIRST_MESSAGE[name])
    [chat] = map_payload(spec, payload).chats
    stored_chat = {"id": 7, "status": "active", "nick": chat.nick, "iwh_id": 3, "chat_variables": {"iwh_id": 3},
                   "incoming_chat": {"chat_external_id": chat.chat_external_id,
                                     "incoming": {"id": 3, "identifier": spec.identifier, "name": spec.name,
                                                  "scope": spec.scope}},
                   "raw": payload}
    message = {"id": 2, "chat_id": 7, "user_id": 1, "kind": "text", "msg": text}
    rest_api = RestApi.model_validate(setup.rest_api)
    secrets = {secret.name: SECRETS[secret.parameter] for secret in setup.ssm_secrets}
    assert set(rest_api.secret_names()) == set(secrets)
    request = rest_api.render(context_for(build_args(stored_chat, message), attributes=spec.attributes,
                                          chat_id_template=spec.chat_id_template, secrets=secrets))
    status = 201 if name == "twilio" else 200
    httpserver.expect_oneshot_request(re.compile("/api/.*"), method="POST").respond_with_response(
        Response('{"ok": true}', status=status, content_type="application/json"))
    result = send(request, allow="127.0.0.1,localhost")
    assert rest_api.is_success(result.status), result
    # the server is shared across tests: a slow request another test left behind may land in its log too
    [(received, _)] = [(entry, response) for entry, response in httpserver.log if entry.path.startswith("/api/")]
    return received, request


def test_open_wa_send_text_gets_the_whatsapp_id_and_the_api_key(httpserver):
    received, rendered = reply_to_sample("open-wa", httpserver)
    # werkzeug's server drops header names with '_' (as nginx does by default); open-wa's express reads them
    assert received.path == "/api/sendText" and rendered.headers["api_key"] == "openwa-key"
    assert received.get_json() == {"args": {"to": "447700900000@c.us", "content": SENT_TEXT}}


def test_whatsapp_cloud_send_message_posts_a_text_message_with_the_bearer_token(httpserver):
    received, _ = reply_to_sample("whatsapp-cloud", httpserver)
    assert received.path == "/api/v21.0/106540352242922/messages"
    assert received.headers["Authorization"] == "Bearer EAAG-access-token"
    assert received.get_json() == {"messaging_product": "whatsapp", "recipient_type": "individual",
                                   "to": "972987654321", "type": "text",
                                   "text": {"preview_url": True, "body": SENT_TEXT}}


def test_telegram_send_message_uses_the_bot_token_path_and_the_numeric_chat_id(httpserver):
    received, _ = reply_to_sample("telegram", httpserver)
    assert received.path == "/api/botEAAG-access-token/sendMessage"  # the SSM token, in the path
    assert received.get_json() == {"chat_id": "3527065", "text": SENT_TEXT}


def test_twilio_messages_api_is_form_encoded_from_the_number_the_visitor_wrote_to(httpserver):
    received, _ = reply_to_sample("twilio", httpserver)
    assert received.path == f"/api/2010-04-01/Accounts/{PARAMETERS['twilio']['account_sid']}/Messages.json"
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert received.headers["Authorization"] == f"Basic {SECRETS['basic_auth']}"
    fields = parse_qs(received.get_data(as_text=True), strict_parsing=True)
    assert fields == {"To": ["whatsapp:+14133881111"], "From": ["whatsapp:+12028831111"], "Body": [SENT_TEXT]}


def test_viber_send_message_names_the_sender_and_carries_the_auth_token(httpserver):
    received, _ = reply_to_sample("viber", httpserver)
    assert received.path == "/api/pa/send_message" and received.headers["X-Viber-Auth-Token"] == "EAAG-access-token"
    assert received.get_json() == {"receiver": "xy5/5y6O81+/kbWHpLhBoA==", "min_api_version": 1,
                                   "sender": {"name": "Support"}, "type": "text", "text": SENT_TEXT}


def test_messenger_send_api_answers_the_sender_psid(httpserver):
    received, _ = reply_to_sample("messenger", httpserver)
    assert received.path == "/api/v21.0/me/messages" and received.headers["Authorization"] == "Bearer EAAG-access-token"
    assert received.get_json() == {"recipient": {"id": "5678"}, "messaging_type": "RESPONSE",
                                   "message": {"text": SENT_TEXT}}


@pytest.mark.parametrize("name", sorted(FIRST_MESSAGE))
def test_no_operator_text_can_break_the_request_body(name, httpserver):
    hostile = '"}, "to": "+1999", "x": {"'
    text = hostile + "&Body=evil&To=+1999"
    received, _ = reply_to_sample(name, httpserver, text=text)
    body = received.get_data(as_text=True)
    if name == "twilio":
        assert parse_qs(body)["Body"] == [text] and parse_qs(body)["To"] != ["+1999"]
        return
    values = list(strings(json.loads(body)))
    assert text in values and not any("+1999" in value for value in values if value != text)


def strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value
