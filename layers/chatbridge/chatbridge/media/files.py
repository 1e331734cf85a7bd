"""Files that came back from a media fetch: decoding the response, naming the S3 object, linking it.

Why the object key is ``media/<spec id>/<sha256(spec id, dedup id, content hash)>.<ext>``: the same delivery
retried gives the same key (the object is overwritten, never duplicated), and the key cannot be guessed by
anyone who does not already hold the file, so the public ``GET /media/...`` link needs no other secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
import re
from dataclasses import dataclass
from urllib.parse import quote

from chatbridge.media.compiled import FetchRequest
from chatbridge.media.errors import MediaFetchFailed

KEY_PREFIX = "media/"
KEY_PATTERN = re.compile(r"^media/(?P<spec_id>[0-9]{1,12})/(?P<name>[0-9a-f]{64}(?:\.[a-z0-9]{1,10})?)$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,127}$")
_DATA_URL = re.compile(r"^data:(?P<type>[^;,]*)(?P<params>(?:;[^;,]*)*?)(?P<b64>;base64)?,", re.IGNORECASE)
_INLINE_TYPES = ("image/", "audio/", "video/", "application/pdf")
_NOT_INLINE = ("image/svg+xml",)  # scriptable: a browser must download it, not render it
GENERIC_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class FetchedFile:
    content: bytes
    content_type: str
    filename: str


def decode_response(request: FetchRequest, content: bytes, response_type: str) -> FetchedFile:
    """The file a response holds, per the request's ``response`` format; raises ``MediaFetchFailed``."""
    declared = clean_media_type(request.content_type)
    if request.response == "raw":
        if not content:
            raise MediaFetchFailed("the response was empty")
        return FetchedFile(content, declared or clean_media_type(response_type) or GENERIC_TYPE, request.filename)
    text = _encoded_text(request, content)
    media_type = ""
    if request.response == "data_url":
        match = _DATA_URL.match(text)
        if match is None:
            raise MediaFetchFailed(f"expected a data URL (data:<type>;base64,...), got {text[:40]!r}")
        if not match.group("b64"):
            raise MediaFetchFailed("the data URL is not base64-encoded")
        media_type = clean_media_type(match.group("type"))
        text = text[match.end():]
    try:
        data = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise MediaFetchFailed("the response does not hold valid base64") from None
    if not data:
        raise MediaFetchFailed("the response holds an empty file")
    if len(data) > request.max_bytes:
        raise MediaFetchFailed(f"the file is larger than max_bytes ({request.max_bytes} bytes)")
    return FetchedFile(data, declared or media_type or GENERIC_TYPE, request.filename)


def _encoded_text(request: FetchRequest, content: bytes) -> str:
    """The base64 or data URL text: at ``location`` in a JSON response, or the whole body."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise MediaFetchFailed(f"expected {request.response} text, got binary data") from None
    if request.location is None:
        stripped = text.strip()
        if stripped.startswith('"'):  # a JSON string
            try:
                return str(json.loads(stripped))
            except ValueError:
                pass
        return stripped
    try:
        document = json.loads(text)
    except ValueError:
        raise MediaFetchFailed(f"expected a JSON response holding the file at {request.location.source!r}") from None
    value = request.location.first(document, document)
    if not isinstance(value, str) or not value:
        raise MediaFetchFailed(f"the response has no text at {request.location.source!r} "
                               f"(response starts {text[:120]!r})")
    return value.strip()


def clean_media_type(value: str | None) -> str:
    """``type/subtype`` in lower case, parameters dropped; '' for anything else (then it is not trusted)."""
    media_type = (value or "").split(";")[0].strip().lower()
    return media_type if _MEDIA_TYPE.match(media_type) else ""


def extension_for(file: FetchedFile) -> str:
    """A short extension from the file name, else from the media type; '' when neither says."""
    suffix = re.search(r"\.([A-Za-z0-9]{1,10})$", file.filename or "")
    if suffix:
        return suffix.group(1).lower()
    guessed = mimetypes.guess_extension(file.content_type) if file.content_type != GENERIC_TYPE else None
    return guessed.lstrip(".").lower() if guessed and re.fullmatch(r"\.[A-Za-z0-9]{1,10}", guessed) else ""


def object_key(spec_id: int, dedup_id: str, file: FetchedFile) -> str:
    content_hash = hashlib.sha256(file.content).hexdigest()
    name = hashlib.sha256(f"{spec_id}\n{dedup_id}\n{content_hash}".encode()).hexdigest()
    extension = extension_for(file)
    return f"{KEY_PREFIX}{spec_id}/{name}{'.' + extension if extension else ''}"


def content_disposition(file: FetchedFile) -> str:
    """Images, audio, video and PDF open in the browser; anything else (HTML, SVG...) is downloaded."""
    inline = file.content_type.startswith(_INLINE_TYPES) and file.content_type not in _NOT_INLINE
    name = re.sub(r'[\x00-\x1f"\\/]+', "_", file.filename)[:200]
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename*=UTF-8''{quote(name, safe='')}" if name else disposition


def media_link(base_url: str, key: str) -> str:
    """The stable link a message body carries: ``<API>/media/<spec id>/<name>`` (``GET`` answers 302)."""
    return f"{base_url.rstrip('/')}/{key}"


def public_base_url(*, configured: str | None, local_url: str | None, domain_name: str | None,
                    stage: str | None) -> str:
    """Where the API is reachable from outside: the configured base (custom domain), the local stack's
    URL, or the execute-api domain and stage the request came in on; '' (relative links) when unknown."""
    for explicit in (configured, local_url):
        if explicit:
            return explicit.rstrip("/")
    if domain_name:
        return f"https://{domain_name}/{stage}" if stage and domain_name.endswith(".amazonaws.com") \
            else f"https://{domain_name}"
    return ""
