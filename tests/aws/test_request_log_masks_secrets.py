"""The request log never keeps a secret: every header and query parameter the spec's verification names,
``Authorization``, signature headers and any name containing secret/token/key/signature/password/auth are
stored as ``***``, and no stored reason echoes a secret.

Requests go through the real ingest handler with ``log_requests`` on; the log is read back through the real
admin handler (``GET /admin/incoming-webhooks/{identifier}/requests``), the way an operator reads it.
"""

from __future__ import annotations

import json

import pytest

from chatbridge.spec.redaction import MASK, is_sensitive_name, mask_mapping, mask_url, verification_names
from chatbridge.spec.verification import Verification
from support.aws import api_event, call
from support.pipeline import load_handler

admin_app = load_handler("admin")
ingest_app = load_handler("ingest")

QUERY_SECRET = "open-sesame-q-8812"
HEADER_SECRET = "partner-pass-h-4471"
API_KEY = "api-key-value-9931"
BEARER = "Bearer bearer-token-5510"
SIGNATURE = "sha256=deadbeefsignature"
TWILIO_URL_KEY = "twilio-url-key-6620"
BASE = {"messages": "messages", "chat_id": "chat", "text": [{"body": "{{msg.text}}"}], "log_requests": True}
PAYLOAD = {"messages": [{"chat": "c1", "text": "hello"}]}


def put_spec(identifier: str, verification: dict) -> None:
    status, body = call(admin_app, api_event(
        "PUT", f"/admin/incoming-webhooks/{identifier}", body={**BASE, "identifier": identifier, "name": identifier,
                                                                "verification": verification},
        path_parameters={"identifier": identifier}, resource="/admin/incoming-webhooks/{identifier}"))
    assert status in (200, 201), body


def post(identifier: str, *, query=None, headers=None, body=PAYLOAD) -> tuple[int, dict]:
    return call(ingest_app, api_event("POST", f"/webhooks/incoming/{identifier}", body=body, query=query,
                                      headers=headers, path_parameters={"identifier": identifier},
                                      resource="/webhooks/incoming/{identifier}"))


def request_log(identifier: str) -> list[dict]:
    status, body = call(admin_app, api_event(
        "GET", f"/admin/incoming-webhooks/{identifier}/requests", path_parameters={"identifier": identifier},
        resource="/admin/incoming-webhooks/{identifier}/requests"))
    assert status == 200
    return body["requests"]


SECRET_HEADERS = {"X-Api-Key": API_KEY, "Authorization": BEARER, "X-Hub-Signature-256": SIGNATURE,
                  "X-Telegram-Bot-Api-Secret-Token": "tg-secret-7781", "X-Viber-Content-Signature": "viber-sig-1"}


def test_a_query_secret_and_secret_headers_are_masked_in_the_request_log_of_a_stored_request(aws_stack):
    put_spec("openwa-like", {"shared_secret": {"query": "secret", "value": QUERY_SECRET}})
    status, _ = post("openwa-like", query={"secret": QUERY_SECRET, "output": "json"},
                     headers={**SECRET_HEADERS, "X-Plain": "visible"})
    assert status == 200
    [entry] = request_log("openwa-like")
    text = json.dumps(entry)
    for secret in (QUERY_SECRET, API_KEY, BEARER, SIGNATURE, "tg-secret-7781", "viber-sig-1"):
        assert secret not in text
    assert entry["query"] == {"secret": MASK, "output": "json"}
    headers = {name.lower(): value for name, value in entry["headers"].items()}
    assert headers["x-api-key"] == headers["authorization"] == headers["x-hub-signature-256"] == MASK
    assert headers["x-plain"] == "visible"


def test_a_header_the_spec_verification_names_is_masked_even_when_its_name_looks_harmless(aws_stack):
    put_spec("partner-hook", {"shared_secret": {"header": "X-Partner-Pass", "value": HEADER_SECRET}})
    assert post("partner-hook", headers={"X-Partner-Pass": HEADER_SECRET})[0] == 200
    assert post("partner-hook", headers={"X-Partner-Pass": HEADER_SECRET + "-wrong"})[0] == 401
    entries = request_log("partner-hook")
    assert [entry["status"] for entry in entries] == [401, 200]
    assert HEADER_SECRET not in json.dumps(entries)
    assert all(entry["headers"]["x-partner-pass"] == MASK for entry in entries)


def test_a_refused_request_keeps_a_reason_that_echoes_no_secret(aws_stack):
    url = f"https://example.com/webhooks/incoming/twilio-like?key={TWILIO_URL_KEY}"
    put_spec("twilio-like", {"twilio": {"auth_token": "twilio-auth-3310", "url": url}})
    status, answer = post("twilio-like", headers={"X-Twilio-Signature": "c2lnbmF0dXJl",
                                                  "Content-Type": "application/x-www-form-urlencoded"},
                          body="From=%2B447700900000&Body=hi")
    assert status == 401
    [entry] = request_log("twilio-like")
    assert entry["outcome"]["status"] == "unauthorized" and "twilio-like" in entry["outcome"]["reason"]
    text = json.dumps(entry)
    assert TWILIO_URL_KEY not in text and "twilio-auth-3310" not in text and "c2lnbmF0dXJl" not in text


def test_a_handshake_token_is_masked_in_the_request_log(aws_stack):
    put_spec("meta-like", {"handshake": {"verify_token": "verify-tok-2208"}})
    status, _ = call(ingest_app, api_event(
        "GET", "/webhooks/incoming/meta-like", query={"hub.mode": "subscribe", "hub.verify_token": "verify-tok-2208",
                                                      "hub.challenge": "42"},
        path_parameters={"identifier": "meta-like"}, resource="/webhooks/incoming/{identifier}"))
    assert status == 200
    [entry] = request_log("meta-like")
    assert "verify-tok-2208" not in json.dumps(entry)
    assert entry["query"] == {"hub.mode": "subscribe", "hub.verify_token": MASK, "hub.challenge": "42"}


# -- the one masking function, on its own --------------------------------------------------------------

@pytest.mark.parametrize("name", ["Authorization", "X-Api-Key", "api_key", "SECRET", "hub.verify_token",
                                  "X-Hub-Signature", "X-Hub-Signature-256", "X-Twilio-Signature", "Cookie",
                                  "X-Viber-Content-Signature", "X-Telegram-Bot-Api-Secret-Token", "password",
                                  "X-Amz-Security-Token", "Proxy-Authorization", "X-Auth"])
def test_names_that_carry_secrets_are_sensitive_whatever_their_case(name):
    assert is_sensitive_name(name) and is_sensitive_name(name.upper()) and is_sensitive_name(name.lower())


@pytest.mark.parametrize("name", ["Content-Type", "User-Agent", "output", "hub.mode", "hub.challenge", "X-Plain"])
def test_ordinary_names_are_not_sensitive(name):
    assert not is_sensitive_name(name)


def test_names_the_verification_gives_are_masked_alongside_the_rule():
    verification = Verification.model_validate({"shared_secret": {"query": "pw", "value": "v"},
                                                "hmac": {"header": "X-Sig-Alt", "secret": "s"}})
    names = verification_names(verification)
    assert {"pw", "x-sig-alt"} <= names
    assert mask_mapping({"PW": "v", "X-Sig-Alt": "s", "q": "ok"}, names) == {"PW": MASK, "X-Sig-Alt": MASK,
                                                                             "q": "ok"}


def test_urls_keep_their_shape_with_secret_query_values_masked():
    assert mask_url("/webhooks/incoming/x?secret=abc&output=json&api_key=k&t") == \
        "/webhooks/incoming/x?secret=***&output=json&api_key=***&t"
    assert mask_url("https://h/p?pw=1&x=2", extra_names={"pw"}) == "https://h/p?pw=***&x=2"
    assert mask_url("/no/query") == "/no/query"
