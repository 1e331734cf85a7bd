"""Media files in the S3 bucket ``MEDIA_BUCKET`` (``MediaBucket`` in template.yaml).

Objects are written once per delivery under a key derived from the message and the content
(``chatbridge.media.model.object_key``), so a retried or concurrent delivery overwrites the same object. They are
never public: ``GET /media/...`` answers with a short-lived presigned URL.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from chatbridge.media.files import FetchedFile, content_disposition
from chatbridge.media.uploads import SNIFF_BYTES, UPLOAD_SECONDS, UploadedFile, object_metadata
from chatbridge.repository import chats, tables
from chatbridge.settings import settings


@lru_cache(maxsize=4)
def _s3(endpoint_url: str | None) -> Any:
    # Path-style addressing on a local endpoint (moto has no per-bucket host names); SigV4 everywhere.
    addressing = "path" if endpoint_url else "virtual"
    return boto3.client("s3", endpoint_url=endpoint_url or None,
                        config=Config(signature_version="s3v4", s3={"addressing_style": addressing}))


def _client() -> Any:
    return _s3(settings().aws_endpoint_url)


def bucket_name() -> str | None:
    """The media bucket, or None when this deployment has none (media kinds then store the failure)."""
    return settings().media_bucket


def _bucket() -> str:
    name = bucket_name()
    if name is None:
        raise RuntimeError("environment variable MEDIA_BUCKET is not set (template.yaml sets it)")
    return name


def store_file(key: str, file: FetchedFile) -> None:
    """Write (or overwrite, on a retry) one file. Storage errors propagate: the webhook answers 503."""
    _client().put_object(Bucket=_bucket(), Key=key, Body=file.content, ContentType=file.content_type,
                         ContentDisposition=content_disposition(file), CacheControl="private, max-age=86400")


def file_exists(key: str) -> bool:
    try:
        _client().head_object(Bucket=_bucket(), Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def presigned_url(key: str) -> str:
    """A GET URL valid for ``MEDIA_LINK_SECONDS`` (300): the stable link redirects to a fresh one each time."""
    seconds = settings().media_link_seconds
    return _client().generate_presigned_url("get_object", Params={"Bucket": _bucket(), "Key": key},
                                            ExpiresIn=seconds)


def already_stored(spec_id: int, dedup_id: str) -> bool:
    """Is this message stored already (a retried delivery)? Then its file need not be fetched again."""
    item = tables.chat_table().get_item(Key=chats.dedup_key(spec_id, dedup_id), ConsistentRead=True,
                                        ProjectionExpression="pk").get("Item")
    return item is not None


def forget_clients() -> None:
    _s3.cache_clear()


# -- operator uploads (chatbridge.media.uploads decides what is taken; this only writes and reads S3) -------

_UPLOAD_CACHE_CONTROL = "private, max-age=86400"


def _upload_headers(upload: UploadedFile, chat_id: int) -> dict[str, Any]:
    file = FetchedFile(b"", upload.type, upload.name)
    return {"ContentType": upload.type, "ContentDisposition": content_disposition(file),
            "CacheControl": _UPLOAD_CACHE_CONTROL, "Metadata": object_metadata(chat_id, upload.name)}


def store_upload(upload: UploadedFile, chat_id: int, content: bytes) -> None:
    """Write an operator's file (sent inline) with the metadata a message later trusts."""
    _client().put_object(Bucket=_bucket(), Key=upload.key, Body=content, **_upload_headers(upload, chat_id))


def presigned_upload(upload: UploadedFile, chat_id: int, size: int) -> tuple[str, dict[str, str]]:
    """A PUT URL valid ``UPLOAD_SECONDS`` for exactly this object: the type, disposition, metadata and length
    are signed, so S3 refuses a PUT whose headers or size differ. Returns the URL and the headers to send."""
    params = {"Bucket": _bucket(), "Key": upload.key, "ContentLength": size, **_upload_headers(upload, chat_id)}
    url = _client().generate_presigned_url("put_object", Params=params, ExpiresIn=UPLOAD_SECONDS)
    headers = {"Content-Type": params["ContentType"], "Content-Disposition": params["ContentDisposition"],
               "Cache-Control": params["CacheControl"], "Content-Length": str(size)}
    headers.update({f"x-amz-meta-{name}": value for name, value in params["Metadata"].items()})
    return url, headers


def stored_upload(key: str) -> dict[str, Any] | None:
    """What S3 holds at ``key``: size, type, metadata, first bytes; None when nothing was stored there."""
    try:
        head = _client().get_object(Bucket=_bucket(), Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "InvalidRange"):
            return None
        raise
    total = head.get("ContentRange", "").rpartition("/")[2]
    size = int(total) if total.isdigit() else int(head.get("ContentLength") or 0)
    return {"size": size, "type": head.get("ContentType") or "", "metadata": head.get("Metadata") or {},
            "head": head["Body"].read()}
