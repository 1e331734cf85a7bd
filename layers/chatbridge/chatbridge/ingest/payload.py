"""Raw request body -> JSON value, with the limits that keep one bad request from hurting the rest.

Decisions (documented in docs/specs.md, "Request bodies"):
- JSON: an object or a list at the top level; numbers keep Python's exact integers (Viber's 19-digit
  ``message_token`` stays exact); NaN/Infinity are refused as they are not JSON; a UTF-8 BOM is dropped.
- ``application/x-www-form-urlencoded``: fields become first-level string attributes; a repeated field
  keeps its *last* value, as PHP (and so Live Helper Chat) does.
- No content type, ``text/plain`` and ``*/*``: read as JSON, since many providers mislabel JSON.
- Any other type (``text/xml``, ``multipart/form-data``...) is a 415: chatbridge cannot map it.
- A ``charset`` other than UTF-8 is not honoured: the body must still be valid UTF-8.
- The content type is judged first: an image sent as ``image/png`` is a 415, not a complaint about UTF-8.
- Text must be valid Unicode all the way down: a lone surrogate, raw or as a ``\\ud800`` escape, is refused
  like invalid UTF-8 (PHP's ``json_decode`` refuses it too), since nothing downstream can store or hash it.
- A number too large for a float (``1e400``) is refused rather than becoming Infinity, which is not JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl

from chatbridge.errors import EmptyBody, NotBase64, NotJson, NotUtf8, TooDeep, TooLarge, UnsupportedContentType

MAX_DEPTH = 64
DEFAULT_MAX_BYTES = 1_048_576

FORM = "application/x-www-form-urlencoded"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_JSON_TYPES = frozenset({"application/json", "text/json", "text/plain", "text/javascript", "application/javascript",
                         "*/*"})


def decode_body(body: str | bytes | None, *, content_type: str | None, is_base64: bool = False,
                max_bytes: int = DEFAULT_MAX_BYTES) -> dict | list:
    """Decode a webhook body as API Gateway hands it over; raise a ``PayloadError`` subclass otherwise."""
    raw = _as_bytes(body, is_base64=is_base64, max_bytes=max_bytes)
    if len(raw) > max_bytes:
        raise TooLarge(f"body is {len(raw)} bytes, more than the {max_bytes}-byte limit")
    media_type = media_type_of(content_type)
    is_form = media_type == FORM
    if not is_form and not (media_type is None or media_type in _JSON_TYPES or media_type.endswith("+json")):
        raise UnsupportedContentType(
            f"content type {media_type!r} is not supported; send application/json or {FORM}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8(f"body is not UTF-8 text (invalid byte at offset {exc.start}); send UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise EmptyBody("body is empty; send the message as JSON or form fields")
    return _decode_form(text) if is_form else _decode_json(text)


def media_type_of(content_type: str | None) -> str | None:
    """``'Application/JSON; charset=utf-8'`` -> ``'application/json'``; empty -> ``None``."""
    if not content_type:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type or None


def _as_bytes(body: str | bytes | None, *, is_base64: bool, max_bytes: int) -> bytes:
    if body is None:
        raise EmptyBody("body is empty; send the message as JSON or form fields")
    if is_base64:
        # Refuse before decoding: base64 is 4/3 the size of what it carries.
        if len(body) > (max_bytes + 2) // 3 * 4 + 4:
            raise TooLarge(f"body is more than the {max_bytes}-byte limit")
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise NotBase64("body is flagged base64-encoded but is not valid base64") from None
    if isinstance(body, str):
        if len(body) > max_bytes:  # every character is at least one byte
            raise TooLarge(f"body is more than the {max_bytes}-byte limit")
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            raise NotUtf8("body contains characters that are not valid UTF-8 (lone surrogates)") from None
    return bytes(body)


def _decode_json(text: str) -> dict | list:
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise TooDeep(f"body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise NotJson(f"body is not valid JSON ({exc}); check the sender's Content-Type and body") from None
    if not isinstance(value, (dict, list)):
        raise NotJson(f"body is a JSON {type(value).__name__}, expected an object or a list")
    if depth_exceeds(value, MAX_DEPTH):
        raise TooDeep(f"body nests deeper than {MAX_DEPTH} levels")
    if _SURROGATE_ESCAPE.search(text) and has_lone_surrogate(value):
        raise NotUtf8("body contains a lone UTF-16 surrogate escape (such as \\ud800) that is not a character; "
                      "send valid Unicode text")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is too large")
    return value


def has_lone_surrogate(value: Any) -> bool:
    """True when a string (key or value) anywhere in ``value`` holds an unpaired surrogate; iterative."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when containers nest deeper than ``limit`` (top level = 1); iterative, so no recursion limit."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


def _decode_form(text: str) -> dict:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise NotUtf8("form body has percent-encoded bytes that are not UTF-8; send UTF-8") from None
    except ValueError as exc:
        raise NotJson(f"form body cannot be parsed ({exc})") from None
    return dict(pairs)  # a repeated field keeps its last value, like PHP
