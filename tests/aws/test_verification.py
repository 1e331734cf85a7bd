"""Verification: shared secret, HMAC of the raw body, Meta's handshake; failures are 401 and write nothing."""

import json

import pytest

from chatbridge.errors import VerificationFailed
from chatbridge.repository import chats, specs
from chatbridge.spec.model import IncomingWebhookSpec
from chatbridge.spec.verification import HmacSignature, Verification, answer_handshake, sign, verify_request
from support.aws import api_event, call
from support.paths import PAYLOADS
from support.pipeline import load_handler
from support.presets import preset_spec

ingest_app = load_handler("ingest")
TELEGRAM_BODY = (PAYLOADS / "telegram" / "courier_helloMsg.json").read_text()
META = HmacSignature(secret="app-secret")


IDENTIFIERS = {"telegram": "telegram-bot", "whatsapp-cloud": "whatsapp-cloud"}


def store(preset, verification=None):
    """The provider's preset spec with only the verification a test sets (none: the spec checks nothing)."""
    document = preset_spec(preset, identifier=IDENTIFIERS[preset], verification=verification)
    return specs.save_spec(IncomingWebhookSpec.model_validate(document))[0]


def post(identifier, body, headers=None, query=None):
    return call(ingest_app, api_event("POST", f"/webhooks/incoming/{identifier}", body=body, query=query,
                                      headers={"Content-Type": "application/json", **(headers or {})},
                                      path_parameters={"identifier": identifier},
                                      resource="/webhooks/incoming/{identifier}"))


def get(identifier, query):
    return call(ingest_app, api_event("GET", f"/webhooks/incoming/{identifier}", query=query,
                                      path_parameters={"identifier": identifier},
                                      resource="/webhooks/incoming/{identifier}"))


def stored_chats(spec):
    return chats.list_chats(spec.id)


def test_telegram_secret_token_header_lets_the_update_in(aws_stack):
    spec = store("telegram", verification={"shared_secret": {"header": "X-Telegram-Bot-Api-Secret-Token",
                                                              "value": "s3cret"}})
    status, body = post("telegram-bot", TELEGRAM_BODY, headers={"x-telegram-bot-api-secret-token": "s3cret"})
    assert status == 200 and body["messages"] == 1
    assert len(stored_chats(spec)) == 1


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}])
def test_missing_or_wrong_secret_token_is_401_and_writes_nothing(aws_stack, headers):
    spec = store("telegram", verification={"shared_secret": {"header": "X-Telegram-Bot-Api-Secret-Token",
                                                              "value": "s3cret"}})
    status, body = post("telegram-bot", TELEGRAM_BODY, headers=headers)
    assert status == 401 and "s3cret" not in json.dumps(body)
    assert stored_chats(spec) == []


def test_secret_in_the_query_string(aws_stack):
    store("telegram", verification={"shared_secret": {"query": "token", "value": "abc"}})
    assert post("telegram-bot", TELEGRAM_BODY, query={"token": "abc"})[0] == 200
    assert post("telegram-bot", TELEGRAM_BODY, query={"token": "abd"})[0] == 401


def test_meta_signature_of_the_raw_body_passes_and_a_tampered_body_fails(aws_stack):
    spec = store("whatsapp-cloud", verification={"hmac": {"secret": "app-secret"}})
    body = (PAYLOADS / "whatsapp_cloud" / "pywa_text.json").read_text()
    good = {"X-Hub-Signature-256": sign(META, body.encode("utf-8"))}
    assert good["X-Hub-Signature-256"].startswith("sha256=")
    assert post("whatsapp-cloud", body.replace("}", " }", 1), headers=good)[0] == 401
    assert post("whatsapp-cloud", body, headers={})[0] == 401
    assert stored_chats(spec) == []
    status, answer = post("whatsapp-cloud", body, headers=good)
    assert status == 200 and answer["messages"] == 1


def test_generic_hmac_with_base64_encoding_and_no_prefix():
    signature = HmacSignature(header="X-Signature", secret="k", algorithm="sha1", encoding="base64", prefix="")
    verification = Verification(hmac=signature)
    value = sign(signature, b"{}")
    verify_request(verification, headers={"x-signature": value}, query={}, raw_body=b"{}")
    with pytest.raises(VerificationFailed):
        verify_request(verification, headers={"x-signature": value}, query={}, raw_body=b"{ }")


def test_meta_subscribe_handshake_echoes_the_challenge(aws_stack):
    store("whatsapp-cloud", verification={"handshake": {"verify_token": "tok"}})
    query = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    status, body = get("whatsapp-cloud", query)
    assert status == 200 and str(body) == "1158201444"


@pytest.mark.parametrize("query", [
    {"hub.mode": "subscribe", "hub.verify_token": "bad", "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "1"},
    {"hub.mode": "subscribe", "hub.verify_token": "tok"},
])
def test_a_bad_handshake_is_401(aws_stack, query):
    store("whatsapp-cloud", verification={"handshake": {"verify_token": "tok"}})
    assert get("whatsapp-cloud", query)[0] == 401


def test_handshake_without_configuration_is_401_and_plain_get_is_405(aws_stack):
    store("whatsapp-cloud")
    assert get("whatsapp-cloud", {"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"})[0] == 401
    assert get("whatsapp-cloud", {})[0] == 405
    assert get("no-such-hook", {})[0] == 404


def test_handshake_helper_refuses_a_spec_without_handshake():
    with pytest.raises(VerificationFailed):
        answer_handshake(None, {"hub.mode": "subscribe"})


def test_a_shared_secret_needs_exactly_one_place():
    with pytest.raises(ValueError):
        Verification.model_validate({"shared_secret": {"value": "x"}})
    with pytest.raises(ValueError):
        Verification.model_validate({"shared_secret": {"value": "x", "header": "A", "query": "b"}})
