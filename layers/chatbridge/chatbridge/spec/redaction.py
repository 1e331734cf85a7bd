"""What of a request may be kept or shown: the one rule that masks secrets in headers, query strings, URLs
and reasons, as ``***``.

The request log keeps requests for days, the local stack prints every request line, and reasons are stored
with them: none of these may hold what proves a request's origin. A name is sensitive when the spec's
``verification`` names it (a header or query parameter of any name), when it is ``Authorization``, a
cookie or a known signature header, or when it contains ``secret``, ``token``, ``key``, ``signature``,
``password`` or ``auth`` (case-insensitive): a masked harmless value costs a little debugging, a kept secret
costs the integration. Pure functions, so every place that keeps or prints a request uses the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_plus

if TYPE_CHECKING:
    from chatbridge.spec.verification import Verification

MASK = "***"
SENSITIVE_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-amz-security-token",
    "x-hub-signature", "x-hub-signature-256", "x-twilio-signature", "x-viber-content-signature",
    "x-telegram-bot-api-secret-token", "x-line-signature", "x-slack-signature",
})
SENSITIVE_WORDS = ("secret", "token", "key", "signature", "password", "auth")


def is_sensitive_name(name: str, extra_names: Iterable[str] = ()) -> bool:
    """Does a header or query parameter of this name carry a secret? ``extra_names``: lower-case names the
    spec's verification gives (``verification_names``)."""
    lowered = str(name).lower()
    return lowered in SENSITIVE_HEADERS or lowered in extra_names or any(w in lowered for w in SENSITIVE_WORDS)


def verification_names(verification: Verification | None) -> frozenset[str]:
    """The lower-case header and query names a spec's checks read: whatever they are called, they hold a secret."""
    if verification is None:
        return frozenset()
    names = set()
    if verification.shared_secret is not None:
        names.add(verification.shared_secret.header or verification.shared_secret.query or "")
    if verification.hmac is not None:
        names.add(verification.hmac.header)
    if verification.twilio is not None:
        names.add(verification.twilio.header)
    if verification.handshake is not None:
        names.add("hub.verify_token")
    return frozenset(name.lower() for name in names if name)


def verification_secrets(verification: Verification | None) -> list[str]:
    """The secret values themselves, so a reason that quotes one can be cleaned (``mask_text``)."""
    if verification is None:
        return []
    found = [verification.shared_secret.value if verification.shared_secret else None,
             verification.hmac.secret if verification.hmac else None,
             verification.twilio.auth_token if verification.twilio else None,
             verification.handshake.verify_token if verification.handshake else None]
    return [value for value in found if value]


def mask_mapping(values: Mapping[str, Any] | None, extra_names: Iterable[str] = ()) -> dict[str, Any]:
    """Headers or query parameters with every sensitive value replaced by ``***`` (names kept as given)."""
    extra = frozenset(name.lower() for name in extra_names)
    return {name: (MASK if is_sensitive_name(name, extra) else value) for name, value in (values or {}).items()}


def mask_url(url: str, extra_names: Iterable[str] = ()) -> str:
    """A URL or request path with sensitive query values masked; everything else kept byte for byte, so a
    log line still shows which parameters came."""
    head, mark, query = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = query.partition("#")
    extra = frozenset(name.lower() for name in extra_names)
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        parts.append(f"{name}={MASK}" if equals and is_sensitive_name(unquote_plus(name), extra) else part)
    return head + mark + "&".join(parts) + hash_mark + fragment


def mask_text(text: str, secrets: Iterable[str] = (), extra_names: Iterable[str] = ()) -> str:
    """A reason or message with known secret values (raw and URL-encoded) and sensitive query values in any
    URL it quotes replaced by ``***``."""
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):  # "a" would garble it
        text = text.replace(secret, MASK).replace(quote(secret, safe=""), MASK)
    return " ".join(mask_url(word, extra_names) if "?" in word and "=" in word else word
                    for word in text.split(" "))


def mask_document(value: Any, secrets: Iterable[str] = (), extra_names: Iterable[str] = ()) -> Any:
    """``mask_text`` over every string in a JSON-like document (an answer, an outcome)."""
    secrets = list(secrets)
    if isinstance(value, str):
        return mask_text(value, secrets, extra_names)
    if isinstance(value, dict):
        return {key: mask_document(item, secrets, extra_names) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_document(item, secrets, extra_names) for item in value]
    return value
