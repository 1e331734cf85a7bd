"""Checking a request against a spec's verification: shared secret, HMAC of the raw body, Twilio's signature,
Meta's handshake.

Pure functions over the request's parts, so the ingest handler checks before anything is decoded or
written. Every comparison is constant time (``hmac.compare_digest``); a failure names what was wrong
without echoing the expected value. They read the verification's fields by attribute: the models of
``spec.verification`` (validated when a spec is saved) or the ingest path's stored form (``spec.stored``),
which builds no pydantic model.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from chatbridge.errors import VerificationFailed

if TYPE_CHECKING:
    from chatbridge.spec.verification import HmacSignature, SharedSecret, TwilioSignature, Verification


def _lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def verify_request(verification: Verification | None, *, headers: Mapping[str, str] | None,
                   query: Mapping[str, str] | None, raw_body: bytes) -> None:
    """Raise ``VerificationFailed`` unless every configured check passes (``raw_body``: bytes as sent)."""
    if verification is None:
        return
    if verification.shared_secret is not None:
        _check_secret(verification.shared_secret, _lower(headers), dict(query or {}))
    if verification.hmac is not None:
        _check_hmac(verification.hmac, _lower(headers), raw_body)
    if verification.twilio is not None:
        _check_twilio(verification.twilio, _lower(headers), raw_body)


def _check_secret(secret: SharedSecret, headers: dict[str, str], query: dict[str, str]) -> None:
    where = f"header {secret.header}" if secret.header else f"query parameter {secret.query}"
    given = headers.get(secret.header.lower()) if secret.header else query.get(secret.query or "")
    if given is None:
        raise VerificationFailed(f"the shared secret ({where}) is missing")
    if not hmac.compare_digest(given.encode("utf-8"), secret.value.encode("utf-8")):
        raise VerificationFailed(f"the shared secret ({where}) does not match")


def sign(signature: HmacSignature, raw_body: bytes) -> str:
    """The header value a correct sender puts on ``raw_body`` (tests and `simulate` use it too)."""
    digest = hmac.new(signature.secret.encode("utf-8"), raw_body, getattr(hashlib, signature.algorithm)).digest()
    text = digest.hex() if signature.encoding == "hex" else base64.b64encode(digest).decode("ascii")
    return signature.prefix + text


def _check_hmac(signature: HmacSignature, headers: dict[str, str], raw_body: bytes) -> None:
    given = headers.get(signature.header.lower())
    if given is None:
        raise VerificationFailed(f"the signature header {signature.header} is missing")
    expected = sign(signature, raw_body)
    if signature.encoding == "hex":  # hex digests are case-insensitive
        given, expected = given.lower(), expected.lower()
    if not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8")):
        raise VerificationFailed(f"the signature in {signature.header} does not match the body")


def twilio_signature(signature: TwilioSignature, raw_body: bytes) -> str:
    """The ``X-Twilio-Signature`` Twilio sends with this form body (repeated fields: each value, sorted)."""
    fields: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_body.decode("utf-8", errors="replace"), keep_blank_values=True):
        fields.setdefault(name, []).append(value)
    signed = signature.url + "".join(name + value for name in sorted(fields) for value in sorted(set(fields[name])))
    digest = hmac.new(signature.auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _check_twilio(signature: TwilioSignature, headers: dict[str, str], raw_body: bytes) -> None:
    given = headers.get(signature.header.lower())
    if given is None:
        raise VerificationFailed(f"the signature header {signature.header} is missing")
    if not hmac.compare_digest(given.strip().encode("utf-8"), twilio_signature(signature, raw_body).encode("utf-8")):
        raise VerificationFailed(f"the signature in {signature.header} does not match the URL {signature.url} "
                                 "and the form fields (is this the URL configured in Twilio?)")


def answer_handshake(verification: Verification | None, query: Mapping[str, str] | None) -> str:
    """The challenge to echo for a valid subscribe request; ``VerificationFailed`` otherwise."""
    handshake = verification.handshake if verification else None
    if handshake is None:
        raise VerificationFailed("this incoming webhook has no subscribe handshake configured")
    query = dict(query or {})
    if query.get("hub.mode") != "subscribe":
        raise VerificationFailed("hub.mode must be 'subscribe'")
    token = query.get("hub.verify_token", "")
    if not hmac.compare_digest(token.encode("utf-8"), handshake.verify_token.encode("utf-8")):
        raise VerificationFailed("hub.verify_token does not match")
    challenge = query.get("hub.challenge")
    if not challenge:
        raise VerificationFailed("hub.challenge is missing")
    return challenge
