"""Proving a request comes from the third party: shared secret, HMAC of the raw body, Twilio's signature,
Meta's handshake.

The models a spec's ``verification`` is validated with when it is saved; the checks themselves are pure
functions in ``spec.signatures`` (re-exported here), so the ingest handler checks before anything is decoded
or written, without building these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatbridge.spec.signatures import answer_handshake, sign, twilio_signature, verify_request  # noqa: F401


class SharedSecret(BaseModel):
    """A fixed token in a header (Telegram ``X-Telegram-Bot-Api-Secret-Token``) or a query parameter."""

    model_config = ConfigDict(extra="forbid")

    header: str | None = None
    query: str | None = None
    value: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_place(self) -> SharedSecret:
        if bool(self.header) == bool(self.query):
            raise ValueError("give exactly one of 'header' or 'query' for the shared secret")
        return self


class HmacSignature(BaseModel):
    """HMAC of the raw body in a header; Meta: ``X-Hub-Signature-256: sha256=<hex>``."""

    model_config = ConfigDict(extra="forbid")

    header: str = "X-Hub-Signature-256"
    secret: str = Field(min_length=1)
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field("sha256=", description="text before the digest in the header, e.g. 'sha256='")


class TwilioSignature(BaseModel):
    """Twilio's ``X-Twilio-Signature``: base64 HMAC-SHA1, keyed by the Auth Token, over the webhook URL
    followed by every form field name and value, sorted by name.

    ``url`` is the URL *as configured in Twilio* (scheme, host, path and query exactly): behind API Gateway
    or a custom domain the URL a Lambda could rebuild from its event is not the one Twilio signed.
    """

    model_config = ConfigDict(extra="forbid")

    header: str = "X-Twilio-Signature"
    auth_token: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$", description="the webhook URL exactly as entered in Twilio")


class Handshake(BaseModel):
    """Meta's subscribe check: ``GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`` -> ``C``."""

    model_config = ConfigDict(extra="forbid")

    verify_token: str = Field(min_length=1)


class Verification(BaseModel):
    """Per-spec checks; each configured one must pass."""

    model_config = ConfigDict(extra="forbid")

    shared_secret: SharedSecret | None = None
    hmac: HmacSignature | None = None
    twilio: TwilioSignature | None = None
    handshake: Handshake | None = None
