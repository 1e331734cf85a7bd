"""Fetching and storing the files of a webhook's media messages, before the messages are written.

Why before: the stored body links the file, and a message is written exactly once, never edited. Why a
failed fetch still stores the message: the conversation must not lose what the visitor sent, and many
providers (open-wa among them) never retry a webhook, so answering 503 would lose the text too. The body
then says the file could not be fetched and why. Storage errors (S3 down) are different: they propagate,
the webhook answers 503 and nothing of the payload has been written yet, so the provider's retry is safe.

Header and URL-path secrets (``{{ssm:/chatbridge/...}}``) are read from SSM Parameter Store just before the fetch,
as the dispatcher reads them, and never stored or shown.

A message whose dedup item exists is a retried delivery: its file was stored the first time, it is not
fetched again, and the message itself is dropped as a duplicate by the exactly-once write.

All files of one webhook request share ``MEDIA_FETCH_BUDGET_SECONDS`` (20): API Gateway ends the request
at 29 s, and the messages still have to be written after the fetches. Up to ``MAX_PARALLEL`` run at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chatbridge.media import fetch as media_fetch
from chatbridge.media.compiled import MediaRequest
from chatbridge.media.errors import MediaFetchFailed
from chatbridge.media.files import media_link, object_key
from chatbridge.repository import media as media_store
from chatbridge.repository import secrets
from chatbridge.settings import settings
from chatbridge.spec.mapping import MappedMessage

MAX_PARALLEL = 4


@dataclass(frozen=True)
class MediaResult:
    """What became of one message's file: the body to store, and the object key or the failure."""

    index: int  # the message's position in the payload
    body: str
    key: str | None = None
    failure: str | None = None
    skipped_duplicate: bool = False


def store_media(spec_id: int, messages: Iterable[tuple[str, MappedMessage]], *, base_url: str,
                budget: float | None = None) -> list[MediaResult]:
    """Fetch and store the file of every ``(dedup id, message)`` that has one; results in input order."""
    jobs = [(dedup_id, message) for dedup_id, message in messages if message.media is not None]
    if not jobs:
        return []
    if budget is None:
        budget = settings().media_fetch_budget_seconds
    deadline = time.monotonic() + budget

    def one(job: tuple[str, MappedMessage]) -> MediaResult:
        dedup_id, message = job
        return _store_one(spec_id, dedup_id, message, base_url=base_url, deadline=deadline)

    if len(jobs) == 1:
        return [one(jobs[0])]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(jobs))) as pool:
        return list(pool.map(one, jobs))


def _store_one(spec_id: int, dedup_id: str, message: MappedMessage, *, base_url: str,
               deadline: float) -> MediaResult:
    request: MediaRequest = message.media
    if media_store.bucket_name() is None:
        return _failed(message, request, "no media bucket is configured (MEDIA_BUCKET)")
    if media_store.already_stored(spec_id, dedup_id):
        return MediaResult(message.index, request.preview, skipped_duplicate=True)
    fetch = request.fetch
    if fetch.secret_names:
        try:
            fetch = fetch.with_secrets(secrets.resolve_secrets(fetch.secret_names))
        except secrets.SecretNotFound:
            return _failed(message, request, f"the SSM parameter(s) {', '.join(fetch.secret_names)} of its headers "
                                             "or URL do not exist or cannot be read")
    try:
        file = media_fetch.fetch(fetch, budget=deadline - time.monotonic())
    except MediaFetchFailed as error:
        return _failed(message, request, str(error))
    key = object_key(spec_id, dedup_id, file)
    media_store.store_file(key, file)
    return MediaResult(message.index, request.linked(media_link(base_url, key)), key=key)


def _failed(message: MappedMessage, request: MediaRequest, reason: str) -> MediaResult:
    return MediaResult(message.index, request.failed(reason), failure=reason)
