"""Every environment variable the functions read, in one frozen dataclass parsed once per environment.

``template.yaml`` sets them per function (the local stack and the tests set the same names). Values are
parsed once per distinct environment: ``settings()`` snapshots the variables it knows and reuses the result
for that snapshot, so a warm Lambda pays one parse for its whole life, while a test that changes a
variable with ``monkeypatch.setenv`` sees the change without clearing any cache. Well-formed values are
parsed here without pydantic (the ingest function's cold start does not import it: docs/benchmarks.md);
anything else (``MAX_ATTEMPTS=many``) goes through a pydantic model built from the same table, which accepts
what pydantic accepts and raises its ``ValidationError`` naming the variable: a deployment fault, not a request's.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True, slots=True)
class Settings:
    # storage and queues (template.yaml passes each function the names it may use)
    config_table: str | None = None
    chat_table: str | None = None
    delivery_table: str | None = None
    dispatch_queue_url: str | None = None
    dispatch_dlq_url: str | None = None
    stream_failure_queue_url: str | None = None  # the evaluator's on-failure destination (admin reads it)
    media_bucket: str | None = None
    aws_endpoint_url: str | None = None  # the local stack's moto server; unset on AWS
    # caches and retention
    spec_cache_seconds: float = 30.0  # how long a warm function trusts a spec, rules and REST APIs
    request_log_days: float = 7.0
    delivery_ttl_days: int = 30
    # the reply path
    max_attempts: int = 6
    outbound_allow: str = ""  # hosts, IPs or CIDRs the outbound URL guard lets through
    ingest_budget_seconds: float = 25.0  # one webhook request's work; API Gateway ends it at 29 s
    # media
    media_fetch_budget_seconds: float = 20.0
    media_link_seconds: int = 300
    media_base_url: str | None = None
    local_url: str | None = None  # set by the local stack


# field -> (variable, type, bound): "ge0" at least 0, "gt0" more than 0, "ge1" at least 1
_FIELDS: dict[str, tuple[str, type, str | None]] = {
    "config_table": ("CONFIG_TABLE", str, None), "chat_table": ("CHAT_TABLE", str, None),
    "delivery_table": ("DELIVERY_TABLE", str, None), "dispatch_queue_url": ("DISPATCH_QUEUE_URL", str, None),
    "dispatch_dlq_url": ("DISPATCH_DLQ_URL", str, None),
    "stream_failure_queue_url": ("STREAM_FAILURE_QUEUE_URL", str, None),
    "media_bucket": ("MEDIA_BUCKET", str, None), "aws_endpoint_url": ("AWS_ENDPOINT_URL", str, None),
    "spec_cache_seconds": ("SPEC_CACHE_SECONDS", float, "ge0"), "request_log_days": ("REQUEST_LOG_DAYS", float, "gt0"),
    "delivery_ttl_days": ("DELIVERY_TTL_DAYS", int, "gt0"), "max_attempts": ("MAX_ATTEMPTS", int, "ge1"),
    "outbound_allow": ("CHATBRIDGE_OUTBOUND_ALLOW", str, None),
    "ingest_budget_seconds": ("INGEST_BUDGET_SECONDS", float, "gt0"),
    "media_fetch_budget_seconds": ("MEDIA_FETCH_BUDGET_SECONDS", float, "gt0"),
    "media_link_seconds": ("MEDIA_LINK_SECONDS", int, "gt0"),
    "media_base_url": ("MEDIA_BASE_URL", str, None), "local_url": ("CHATBRIDGE_LOCAL_URL", str, None),
}
_NAMES = tuple(variable for variable, _, _ in _FIELDS.values())
_PLAIN = {int: re.compile(r"[0-9]{1,18}"), float: re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")}
_BOUNDS = {"ge0": lambda n: n >= 0, "gt0": lambda n: n > 0, "ge1": lambda n: n >= 1}


def settings() -> Settings:
    """The current environment's settings (empty values count as unset)."""
    return _parse(tuple(os.environ.get(name) or None for name in _NAMES))


@lru_cache(maxsize=8)
def _parse(values: tuple[str | None, ...]) -> Settings:
    parsed: dict[str, Any] = {}
    for (name, (_, kind, bound)), value in zip(_FIELDS.items(), values, strict=True):
        if value is None:
            continue
        if kind is not str:
            if not _PLAIN[kind].fullmatch(value) or not _BOUNDS[bound](kind(value)):  # type: ignore[index]
                return _validated(values)
            value = kind(value)
        parsed[name] = value
    return Settings(**parsed)


def _validated(values: tuple[str | None, ...]) -> Settings:
    """A value the plain parser does not take: pydantic decides (same fields and bounds), and names the variable."""
    from pydantic import ConfigDict, Field, create_model

    limits = {"ge0": {"ge": 0}, "gt0": {"gt": 0}, "ge1": {"ge": 1}}
    model = create_model(  # type: ignore[call-overload]
        "Settings", __config__=ConfigDict(frozen=True, populate_by_name=True),
        **{name: (kind | None if default is None else kind, Field(default, alias=variable, **limits.get(bound or "", {})))
           for name, (variable, kind, bound) in _FIELDS.items()
           for default in (Settings.__dataclass_fields__[name].default,)})
    checked = model.model_validate({name: value for name, value in zip(_NAMES, values, strict=True) if value is not None})
    return Settings(**checked.model_dump())
