"""Forget every client and cache the repository keeps in a warm process.

A Lambda keeps them for its life; whatever starts a fresh AWS (a test's moto, a benchmark run, the local
stack's workers) must start from nothing, or a client bound to the last moto answers for the next. One
function names them all, so no copy of this list can miss one that is added later.
"""

from __future__ import annotations


def forget_all() -> None:
    from chatbridge.repository import (
        chat_cache,
        media,
        outgoing,
        queue,
        reply_storage,
        secrets,
        specs,
        stream_failures,
        tables,
    )

    for cached in (reply_storage.reply_storage, queue._sqs, secrets._ssm):
        cached.cache_clear()
    outgoing.forget_cached_rules()
    reply_storage.forget_cached_spec_identifiers()
    secrets.forget_secrets()
    tables.forget_clients()
    specs.forget_cached_specs()
    media.forget_clients()
    stream_failures.forget_clients()
    chat_cache.forget()
