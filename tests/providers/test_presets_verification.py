"""Twilio's X-Twilio-Signature check (verification.py), pinned to Twilio's published test vectors."""

import base64
import hashlib
import hmac

import pytest
from pydantic import ValidationError

from chatbridge.errors import VerificationFailed
from chatbridge.spec.model import IncomingWebhookSpec
from chatbridge.spec.verification import TwilioSignature, Verification, twilio_signature, verify_request

DOCS_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOCS_BODY = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212"
DOCS_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="  # twilio.com/docs/usage/security, auth token 12345
TWILIO = Verification(twilio=TwilioSignature(auth_token="12345", url=DOCS_URL))


def check(body=DOCS_BODY, signature=DOCS_SIGNATURE, verification=TWILIO):
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    verify_request(verification, headers=headers, query={}, raw_body=body)


def test_signature_matches_twilios_published_vectors_whatever_the_field_order():
    assert twilio_signature(TWILIO.twilio, DOCS_BODY) == DOCS_SIGNATURE
    other = b"To=%2B18005551212&Digits=1234&From=%2B12349013030&Caller=%2B12349013030&CallSid=CA1234567890ABCDE"
    assert twilio_signature(TWILIO.twilio, other) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_a_correctly_signed_request_passes_and_header_names_are_case_insensitive():
    check()
    verify_request(TWILIO, headers={"x-twilio-signature": DOCS_SIGNATURE}, query={}, raw_body=DOCS_BODY)


@pytest.mark.parametrize("body,signature,reason", [
    (DOCS_BODY.replace(b"Digits=1234", b"Digits=9999"), DOCS_SIGNATURE, "does not match"),
    (DOCS_BODY + b"&Extra=1", DOCS_SIGNATURE, "does not match"),
    (DOCS_BODY, "AAAA" + DOCS_SIGNATURE[4:], "does not match"),
    (DOCS_BODY, None, "is missing"),
])
def test_tampered_body_wrong_or_missing_signature_fail(body, signature, reason):
    with pytest.raises(VerificationFailed, match=reason):
        check(body, signature)


def test_the_signature_covers_the_configured_url():
    moved = Verification(twilio=TwilioSignature(auth_token="12345", url=DOCS_URL.replace("foo=1", "foo=2")))
    with pytest.raises(VerificationFailed, match="URL configured in Twilio"):
        check(verification=moved)
    with pytest.raises(VerificationFailed):
        check(verification=Verification(twilio=TwilioSignature(auth_token="54321", url=DOCS_URL)))


def test_repeated_fields_are_signed_value_by_value_in_sorted_order():
    signature = TWILIO.twilio
    body = b"MediaUrl=b&MediaUrl=a&Body=x"
    expected = base64.b64encode(hmac.new(b"12345", (DOCS_URL + "Bodyx" + "MediaUrla" + "MediaUrlb").encode(),
                                         hashlib.sha1).digest()).decode()
    assert twilio_signature(signature, body) == expected


def test_a_spec_refuses_a_twilio_check_without_token_or_with_a_relative_url():
    base = {"identifier": "twilio-sms", "name": "Twilio", "chat_id": "From", "text": [{"body": "{{msg.Body}}"}]}
    IncomingWebhookSpec.model_validate({**base, "verification": {"twilio": {"auth_token": "t", "url": DOCS_URL}}})
    for bad in ({"auth_token": "", "url": DOCS_URL}, {"auth_token": "t", "url": "/webhooks/incoming/x"}):
        with pytest.raises(ValidationError, match="verification.twilio"):
            IncomingWebhookSpec.model_validate({**base, "verification": {"twilio": bad}})
