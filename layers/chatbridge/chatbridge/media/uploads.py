"""Files an operator sends: which are accepted (size, type, content), how they are named and keyed (pure).

Why an allow-list of types: the file is served from the API's own domain through the stable link, and a
provider shows it to the visitor; HTML, SVG or an executable would turn that link into a way to deliver
scripts or malware under chatbridge's name. What remains are the types every provider's send API takes (or
that a visitor's phone opens): common images, PDF and office documents, plain text and CSV, zip, audio, video.
Images and PDFs are checked against their first bytes too (a "photo.jpg" holding HTML is refused), since
those types open inline in a browser.

Why two limits: inline bytes travel base64 in a JSON body, through API Gateway (10 MB) and a synchronous
Lambda invoke (6 MB for the whole event), so ``INLINE_MAX_BYTES`` (4 MiB decoded, about 5.6 MB of base64)
leaves room for the event around it. Larger files go to S3 directly with a presigned PUT, up to
``MAX_FILE_BYTES`` (20 MB: what Telegram fetches by URL for documents, and more than WhatsApp, Twilio or
Viber take for images; see docs/presets.md for each provider's own limits).

Why a random object key: an upload has no provider message id to derive one from, and 256 random bits make
the link as unguessable as an incoming file's. The key keeps the media layout
(``media/<spec id>/<64 hex>.<ext>``), so the same media-link function serves it.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote

from chatbridge.errors import ChatbridgeError
from chatbridge.media.files import GENERIC_TYPE, KEY_PATTERN, KEY_PREFIX, FetchedFile, clean_media_type, extension_for

INLINE_MAX_BYTES = 4 * 1024 * 1024
MAX_FILE_BYTES = 20_000_000
MAX_NAME_CHARS = 200
UPLOAD_SECONDS = 900  # how long a presigned PUT stays valid

FileKind = Literal["image", "attachment"]

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
ATTACHMENT_TYPES = (
    "application/pdf", "text/plain", "text/csv", "application/zip", "application/rtf",
    "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "audio/mpeg", "audio/ogg", "audio/aac", "audio/mp4", "audio/amr", "video/mp4", "video/3gpp",
)
ALLOWED_TYPES = IMAGE_TYPES + ATTACHMENT_TYPES

# first bytes of the types a browser renders inline; anything else is served as a download
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),  # RIFF....WEBP, checked below
    "application/pdf": (b"%PDF-",),
}
SNIFF_BYTES = 16
_FILE_ID = re.compile(r"^[0-9a-f]{64}(?:\.[a-z0-9]{1,10})?$")


class UploadRefused(ChatbridgeError):
    """An operator's file cannot be taken; ``status`` is the HTTP answer (413 size, 415 type, 422 otherwise)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """What a message carries about its file, and ``args.file`` shows (``key`` stays out of ``args``)."""

    id: str          # the link's last segment: <64 hex>.<ext>
    key: str         # media/<spec id>/<id>
    name: str
    type: str
    kind: FileKind
    size: int

    def as_message_file(self, url: str) -> dict[str, object]:
        return {"id": self.id, "url": url, "name": self.name, "type": self.type, "kind": self.kind,
                "size": self.size}


def clean_name(name: str) -> str:
    """The file name as a visitor will see it: its last path part, no control characters; refused if empty."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f]+", "", base).strip().strip(".")
    if not base:
        raise UploadRefused(422, "name: the file needs a name (such as receipt.pdf)")
    if len(base) > MAX_NAME_CHARS:
        stem, dot, extension = base.rpartition(".")
        base = (stem[:MAX_NAME_CHARS - len(extension) - 1] + dot + extension) if dot and len(extension) <= 10 \
            else base[:MAX_NAME_CHARS]
    return base


def media_type_of(name: str, declared: str | None) -> str:
    """The declared type (without parameters), else the name's extension's; refused unless allowed."""
    media_type = clean_media_type(declared)
    if not media_type or media_type == GENERIC_TYPE:
        media_type = clean_media_type(mimetypes.guess_type(name, strict=False)[0]) or ""
    if media_type in ("image/jpg", "image/pjpeg"):
        media_type = "image/jpeg"
    if media_type not in ALLOWED_TYPES:
        shown = media_type or f"unknown (the name {name!r} does not say, and no type was given)"
        raise UploadRefused(415, f"type: {shown} is not a type operators may send; allowed: "
                                 f"{', '.join(ALLOWED_TYPES)}")
    return media_type


def kind_of(media_type: str) -> FileKind:
    return "image" if media_type in IMAGE_TYPES else "attachment"


def check_size(size: int, *, limit: int = MAX_FILE_BYTES, how: str = "") -> None:
    if size <= 0:
        raise UploadRefused(422, "the file is empty")
    if size > limit:
        raise UploadRefused(413, f"the file is {size} bytes; at most {limit} bytes {how}".rstrip())


def check_content(media_type: str, head: bytes) -> None:
    """An image or PDF must start as one: it is shown inline, so its bytes must be what its type says."""
    signatures = _SIGNATURES.get(media_type)
    if not signatures:
        return
    matches = head.startswith(signatures)
    if media_type == "image/webp":
        matches = matches and head[8:12] == b"WEBP"
    if not matches:
        raise UploadRefused(415, f"the content is not {media_type} (its first bytes say otherwise)")


def new_upload(spec_id: int, name: str, declared_type: str | None) -> UploadedFile:
    """A fresh object for one operator file: checked name and type, random unguessable key. Size comes later."""
    name = clean_name(name)
    media_type = media_type_of(name, declared_type)
    extension = extension_for(FetchedFile(b"", media_type, name))
    token = hashlib.sha256(secrets.token_bytes(32)).hexdigest()
    file_id = f"{token}.{extension}" if extension else token
    return UploadedFile(id=file_id, key=f"{KEY_PREFIX}{spec_id}/{file_id}", name=name, type=media_type,
                        kind=kind_of(media_type), size=0)


def key_of(spec_id: int, file_id: str) -> str:
    """The object key of a file id a message names; ``UploadRefused`` (422) for anything not shaped as one."""
    key = f"{KEY_PREFIX}{spec_id}/{file_id}"
    if not isinstance(file_id, str) or not _FILE_ID.match(file_id) or not KEY_PATTERN.match(key):
        raise UploadRefused(422, f"file: {str(file_id)[:80]!r} is not a file id (the `id` that "
                                 "POST /admin/chats/{id}/files answered)")
    return key


# The object's own metadata says whose it is and what it is, so a message can trust it without another table.
def object_metadata(chat_id: int, name: str) -> dict[str, str]:
    return {"chat-id": str(chat_id), "filename": quote(name, safe="")}  # S3 metadata is ASCII only


def name_from_metadata(metadata: dict[str, str]) -> str:
    return unquote(metadata.get("filename") or "")
