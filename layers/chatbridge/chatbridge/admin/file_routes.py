"""Operators' files: ``POST /admin/chats/{id}/files`` stores one in the media bucket (or answers a presigned
PUT for it), and ``attached_file`` lets an operator message carry it (``POST /admin/chats/{id}/messages`` with
``"file": <id>``).

Why both ways in one route: small files (up to ``INLINE_MAX_BYTES``, 4 MiB) travel base64 in the JSON
body and are stored at once, which works the same behind API Gateway and on the local stack; a larger one
would not fit a Lambda event (6 MB), so the route answers a presigned S3 PUT instead and the bytes go
straight to the bucket. Either way the message is checked against what S3 holds (size, type, first bytes,
the chat it was uploaded for), so a PUT that never happened, or put something else, cannot be sent.
What is accepted: ``chatbridge.media.uploads``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatbridge.admin.http import BadRequest, as_id, invalid, new_router, not_found
from chatbridge.answers import answer
from chatbridge.ingest.payload import decode_body
from chatbridge.media.uploads import (
    INLINE_MAX_BYTES,
    MAX_FILE_BYTES,
    UPLOAD_SECONDS,
    UploadedFile,
    UploadRefused,
    check_content,
    check_size,
    key_of,
    kind_of,
    media_type_of,
    name_from_metadata,
    new_upload,
)

router = new_router()
MAX_UPLOAD_BODY_BYTES = 6_000_000  # a synchronous Lambda event is at most 6 MB: 4 MiB of base64'd file and JSON
_INLINE_HOW = (f"inline (content_base64); send the size without content_base64 for a presigned upload of up to "
               f"{MAX_FILE_BYTES} bytes")


class FileUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=1024, description="the file's name as the visitor sees it")
    type: str | None = Field(None, max_length=255, description="its media type; default: from the name")
    content_base64: str | None = Field(None, description="the bytes (at most 4 MiB decoded)")
    size: int | None = Field(None, ge=0, lt=10**12, description="without content_base64: the bytes it will PUT")


@router.post("/admin/chats/<chat_id>/files")
def post_file(chat_id: str) -> Response:
    from chatbridge.repository import media, reply_storage

    chat = reply_storage.get_chat(int(chat_id)) if as_id(chat_id) is not None else None
    if chat is None:
        return not_found("chat", chat_id)
    event = router.current_event
    body = decode_body(event.body, content_type=None, is_base64=event.is_base64_encoded,
                       max_bytes=MAX_UPLOAD_BODY_BYTES)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object: {\"name\", \"type\", \"content_base64\"} or "
                         "{\"name\", \"type\", \"size\"}")
    try:
        request = FileUpload.model_validate(body)
    except ValidationError as error:
        return invalid(error)
    if media.bucket_name() is None:
        return no_bucket()
    try:
        upload = new_upload(_spec_id(chat), request.name, request.type)
        if request.content_base64 is None:
            return _presigned(upload, chat["id"], request.size)
        content = _decoded(request.content_base64)
        check_size(len(content), limit=INLINE_MAX_BYTES, how=_INLINE_HOW)
        check_content(upload.type, content)
    except UploadRefused as error:
        return refused(error)
    stored = replace(upload, size=len(content))
    media.store_upload(stored, chat["id"], content)
    return answer(201, {"status": "stored", "file": stored.as_message_file(_link(stored))})


def _presigned(upload: UploadedFile, chat_id: int, size: int | None) -> Response:
    from chatbridge.repository import media

    if size is None:
        raise UploadRefused(422, "give content_base64 (the bytes, up to 4 MiB) or size (for a presigned upload)")
    check_size(size)
    pending = replace(upload, size=size)
    url, headers = media.presigned_upload(pending, chat_id, size)
    return answer(201, {"status": "upload", "file": pending.as_message_file(_link(pending)),
                        "upload": {"method": "PUT", "url": url, "headers": headers, "expires_in": UPLOAD_SECONDS}})


def attached_file(chat: dict[str, Any], file_id: str) -> dict[str, Any]:
    """The ``file`` a message carries, read back from what S3 holds; ``UploadRefused`` when it cannot be sent."""
    from chatbridge.repository import media

    key = key_of(_spec_id(chat), file_id)
    stored = media.stored_upload(key)
    if stored is None:
        raise UploadRefused(422, f"file: nothing is stored as {file_id!r} (upload it with POST /admin/chats/"
                                 f"{chat['id']}/files; a presigned upload must be PUT before the message)")
    if stored["metadata"].get("chat-id") != str(chat["id"]):
        raise UploadRefused(422, f"file: {file_id!r} was not uploaded for chat {chat['id']}")
    name = name_from_metadata(stored["metadata"]) or file_id
    media_type = media_type_of(name, stored["type"])
    check_size(stored["size"])
    check_content(media_type, stored["head"])
    file = UploadedFile(id=file_id, key=key, name=name, type=media_type, kind=kind_of(media_type),
                        size=stored["size"])
    return file.as_message_file(_link(file))


def no_bucket() -> Response:
    """A deployment without a media bucket (MEDIA_BUCKET unset): a fault of the deployment, not the request."""
    return answer(503, {"status": "unavailable", "reason": "no media bucket is configured (MEDIA_BUCKET)"})


def refused(error: UploadRefused) -> Response:
    """The 4xx an ``UploadRefused`` stands for, with its reason."""
    return answer(error.status, {"status": "refused", "reason": error.reason})


def _decoded(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("content_base64 is not valid base64") from None


def _spec_id(chat: dict[str, Any]) -> int:
    spec_id = chat.get("iwh_id")
    return int(spec_id) if isinstance(spec_id, int) else 0


def _link(file: UploadedFile) -> str:
    """The stable link (``GET /media/...`` answers 302), on the API the request came in on, as ingest links."""
    from chatbridge.media.files import media_link, public_base_url
    from chatbridge.settings import settings

    context = router.current_event.raw_event.get("requestContext") or {}
    base = public_base_url(configured=settings().media_base_url, local_url=settings().local_url,
                           domain_name=context.get("domainName"), stage=context.get("stage"))
    return media_link(base, file.key)
