"""Every preset's round trip through the real path: the provider's own captured payload is posted (signed as
the provider signs it) to the ingest over HTTP, an operator answers through the admin API, and the reply
goes through the chat table's stream, the evaluator, the dispatch queue and the dispatcher to a loopback
server standing in for the provider's send API. Each test asserts what that server received (method, path,
headers, and the parsed body field by field) against the provider's documented send call.

Nothing in between is built by hand: a value the reply needs that the pipeline drops on the way (Twilio's
``From`` was once sent as ``"MISSING"`` because ``args.chat`` carries no raw payload) fails here.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request

import boto3
import pytest

from chatbridge.cli import presets
from chatbridge.repository import secrets
from chatbridge.spec.verification import HmacSignature, TwilioSignature, sign, twilio_signature
from support.paths import PAYLOADS
from support.pipeline import Pipeline
from support.presets import DIRECTORY, PARAMETERS
from support.provider_server import ProviderServer

OPERATOR_TEXT = 'Shipped "today" \u2714 [url=https://shop.example/o/1]track it[/url]'
SENT_TEXT = 'Shipped "today" \u2714 https://shop.example/o/1'
HOSTILE = '"}, "to": "+1999", "x": {"&Body=evil&To=+1999'
TOKEN = "EAAG-access-token"
API_KEY = "openwa-key"
BASIC_AUTH = base64.b64encode(b"AC0123456789abcdef0123456789abcdef:0123456789abcdef0123456789abcdef").decode()
SECRET_VALUES = {"token": TOKEN, "api_key": API_KEY, "basic_auth": BASIC_AUTH}
# preset -> (a sample its provider posts that starts a chat, the send API's documented success answer)
FIRST_MESSAGE = {
    "open-wa": ("openwa_v5docs_incoming_text.json", (200, {"success": True, "response": "true_447700900000@c.us_3EB0"})),
    "whatsapp-cloud": ("pywa_text.json", (200, {"messaging_product": "whatsapp",
                                                "contacts": [{"input": "972987654321", "wa_id": "972987654321"}],
                                                "messages": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"}]})),
    "telegram": ("courier_helloMsg.json", (200, {"ok": True, "result": {"message_id": 9, "chat": {"id": 3527065}}})),
    "twilio": ("courier_waReceiveValid.txt", (201, {"sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued"})),
    "viber": ("courier_validMsg.json", (200, {"status": 0, "status_message": "ok", "message_token": 5741311803571721087})),
    "messenger": ("courier_hello_msg.json", (200, {"recipient_id": "5678", "message_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8"})),
}


@pytest.fixture
def provider():
    server = ProviderServer()
    yield server
    server.stop()


@pytest.fixture
def round_trip(template_api, provider, monkeypatch):  # noqa: F811
    """``round_trip(preset, text)``: apply the preset, post its first sample, answer it; returns the request
    the provider's send API received and the chat the sample created."""
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")  # the provider stand-in is on loopback
    secrets.forget_secrets()

    def run(name: str, text: str = OPERATOR_TEXT):
        sample, provider.answer = FIRST_MESSAGE[name]
        identifier = f"{name}-trip"
        apply_preset(template_api, name, identifier, base_url=f"{provider.url}/api")
        rest_api = get(template_api, f"/admin/rest-apis/{identifier}-send")
        for secret in set(re.findall(r"\{\{ssm:(/chatbridge/[^}]+)\}\}", json.dumps(rest_api))):
            boto3.client("ssm").put_parameter(Name=secret, Value=SECRET_VALUES[secret.rsplit("/", 1)[1]],
                                              Type="SecureString", Overwrite=True)
        pipeline = Pipeline(os.environ["CHAT_TABLE"], os.environ["DISPATCH_QUEUE_URL"])
        spec = get(template_api, f"/admin/incoming-webhooks/{identifier}")
        body = (PAYLOADS / DIRECTORY[name] / sample).read_bytes()
        status, answer = post_signed(template_api, spec, body)
        assert status == 200 and answer["messages"] == 1, answer
        [chat_id] = answer["chats"]
        status, _ = request(template_api, "POST", f"/admin/chats/{chat_id}/messages", {"msg": text, "user_id": 1})
        assert status in (200, 201)
        pipeline.pump()
        [received] = provider.received
        messages = get(template_api, f"/admin/chats/{chat_id}/messages")["messages"]
        assert messages[-1]["delivery"] == "sent", messages[-1]
        return received, get(template_api, f"/admin/chats/{chat_id}")

    return run


def test_open_wa_send_text_gets_the_whatsapp_id_and_the_api_key(round_trip):
    received, _ = round_trip("open-wa")
    assert (received.method, received.path) == ("POST", "/api/sendText")
    assert received.headers["api_key"] == API_KEY and received.headers["Content-Type"] == "application/json"
    assert received.json() == {"args": {"to": "447700900000@c.us", "content": SENT_TEXT}}


def test_whatsapp_cloud_send_message_posts_a_text_message_with_the_bearer_token(round_trip):
    received, _ = round_trip("whatsapp-cloud")
    assert (received.method, received.path) == ("POST", "/api/v21.0/106540352242922/messages")
    assert received.headers["Authorization"] == f"Bearer {TOKEN}"
    assert received.headers["Content-Type"] == "application/json"
    assert received.json() == {"messaging_product": "whatsapp", "recipient_type": "individual",
                               "to": "972987654321", "type": "text", "text": {"preview_url": True, "body": SENT_TEXT}}


def test_telegram_send_message_uses_the_bot_token_path_and_the_chat_id(round_trip):
    received, _ = round_trip("telegram")
    assert (received.method, received.path) == ("POST", f"/api/bot{TOKEN}/sendMessage")
    assert received.headers["Content-Type"] == "application/json"
    assert received.json() == {"chat_id": "3527065", "text": SENT_TEXT}


def test_twilio_messages_api_is_form_encoded_from_the_number_the_visitor_wrote_to(round_trip):
    received, chat = round_trip("twilio")
    assert (received.method, received.path) == (
        "POST", f"/api/2010-04-01/Accounts/{PARAMETERS['twilio']['account_sid']}/Messages.json")
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert received.headers["Authorization"] == f"Basic {BASIC_AUTH}"
    fields = urllib.parse.parse_qs(received.body.decode(), strict_parsing=True)
    callback = fields.pop("StatusCallback")  # the webhook itself: Twilio posts the reply's statuses there
    assert fields == {"To": ["whatsapp:+14133881111"], "From": ["whatsapp:+12028831111"], "Body": [SENT_TEXT]}
    assert len(callback) == 1 and callback[0].endswith("/webhooks/incoming/twilio-trip")
    assert chat["incoming_chat"]["attributes"] == {"to": "whatsapp:+12028831111"}


def test_viber_send_message_names_the_sender_and_carries_the_auth_token(round_trip):
    received, _ = round_trip("viber")
    assert (received.method, received.path) == ("POST", "/api/pa/send_message")
    assert received.headers["X-Viber-Auth-Token"] == TOKEN
    assert received.json() == {"receiver": "xy5/5y6O81+/kbWHpLhBoA==", "min_api_version": 1,
                               "sender": {"name": "Support"}, "type": "text", "text": SENT_TEXT}


def test_messenger_send_api_answers_the_sender_psid(round_trip):
    received, _ = round_trip("messenger")
    assert (received.method, received.path) == ("POST", "/api/v21.0/me/messages")
    assert received.headers["Authorization"] == f"Bearer {TOKEN}"
    assert received.json() == {"recipient": {"id": "5678"}, "messaging_type": "RESPONSE",
                               "message": {"text": SENT_TEXT}}


@pytest.mark.parametrize("name", sorted(FIRST_MESSAGE))
def test_no_operator_text_can_break_the_request_body(name, round_trip):
    received, _ = round_trip(name, HOSTILE)
    body = received.body.decode()
    assert "MISSING" not in body
    if name == "twilio":
        fields = urllib.parse.parse_qs(body)
        assert fields["Body"] == [HOSTILE] and fields["To"] == ["whatsapp:+14133881111"]
        return
    values = list(strings(json.loads(body)))
    assert HOSTILE in values and not any("+1999" in value for value in values if value != HOSTILE)


# -- the provider's side, done as the provider does it ---------------------------------------------------

def apply_preset(endpoint: str, name: str, identifier: str, **values: str) -> None:
    parser = argparse.ArgumentParser(prog="chatbridge")
    presets.register(parser.add_subparsers(dest="command", required=True))
    pairs = [f"--set={key}={value}" for key, value in {**PARAMETERS[name], **values}.items()]
    args = parser.parse_args(["presets", "apply", name, "--identifier", identifier, *pairs, "--endpoint", endpoint])
    assert args.func(args) == 0


def post_signed(endpoint: str, spec: dict, body: bytes) -> tuple[int, dict]:
    """Post ``body`` to the spec's webhook URL with what its verification asks for, as the provider sends it."""
    url = f"{endpoint}/webhooks/incoming/{spec['identifier']}"
    verification = spec.get("verification") or {}
    is_form = not body.lstrip().startswith((b"{", b"["))
    headers = {"Content-Type": "application/x-www-form-urlencoded" if is_form else "application/json"}
    if shared := verification.get("shared_secret"):
        if shared.get("header"):
            headers[shared["header"]] = shared["value"]
        else:
            url += "?" + urllib.parse.urlencode({shared["query"]: shared["value"]})
    if hmac_check := verification.get("hmac"):
        headers[hmac_check["header"]] = sign(HmacSignature.model_validate(hmac_check), body)
    if twilio := verification.get("twilio"):
        assert twilio["url"] == url, "Twilio signs the URL it was given: the one `presets apply` printed"
        headers["X-Twilio-Signature"] = twilio_signature(TwilioSignature.model_validate(twilio), body)
    return request(endpoint, "POST", url[len(endpoint):], body, headers=headers)


def request(endpoint: str, method: str, path: str, body=None, *, headers=None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    headers = headers or ({"Content-Type": "application/json"} if data is not None else {})
    try:
        with urllib.request.urlopen(urllib.request.Request(endpoint + path, data=data, method=method,
                                                           headers=headers), timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def get(endpoint: str, path: str) -> dict:
    status, answer = request(endpoint, "GET", path)
    assert status == 200, answer
    return answer


def strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value
