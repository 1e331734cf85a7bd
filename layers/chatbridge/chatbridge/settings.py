"""Every environment variable the functions read, in one pydantic model.

``template.yaml`` sets them per function (the local stack and the tests set the same names). Values are
parsed once per distinct environment: ``settings()`` snapshots the variables it knows and reuses the model
for that snapshot, so a warm Lambda pays one parse for its whole life, while a test that changes a
variable with ``monkeypatch.setenv`` sees the change without clearing any cache. A malformed value
(``MAX_ATTEMPTS=many``) raises ``ValidationError`` naming the variable: a deployment fault, not a request's.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    # storage and queues (template.yaml passes each function the names it may use)
    config_table: str | None = Field(None, alias="CONFIG_TABLE")
    chat_table: str | None = Field(None, alias="CHAT_TABLE")
    delivery_table: str | None = Field(None, alias="DELIVERY_TABLE")
    dispatch_queue_url: str | None = Field(None, alias="DISPATCH_QUEUE_URL")
    dispatch_dlq_url: str | None = Field(None, alias="DISPATCH_DLQ_URL")
    stream_failure_queue_url: str | None = Field(None, alias="STREAM_FAILURE_QUEUE_URL",
                                                 description="the evaluator's on-failure destination (admin reads it)")
    media_bucket: str | None = Field(None, alias="MEDIA_BUCKET")
    aws_endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL",
                                         description="the local stack's moto server; unset on AWS")
    # caches and retention
    spec_cache_seconds: float = Field(30.0, ge=0, alias="SPEC_CACHE_SECONDS",
                                      description="how long a warm function trusts a spec, rules and REST APIs")
    request_log_days: float = Field(7.0, gt=0, alias="REQUEST_LOG_DAYS")
    delivery_ttl_days: int = Field(30, gt=0, alias="DELIVERY_TTL_DAYS")
    # the reply path
    max_attempts: int = Field(6, ge=1, alias="MAX_ATTEMPTS")
    outbound_allow: str = Field("", alias="CHATBRIDGE_OUTBOUND_ALLOW",
                                description="hosts, IPs or CIDRs the outbound URL guard lets through")
    ingest_budget_seconds: float = Field(25.0, gt=0, alias="INGEST_BUDGET_SECONDS",
                                         description="one webhook request's work; API Gateway ends it at 29 s")
    # media
    media_fetch_budget_seconds: float = Field(20.0, gt=0, alias="MEDIA_FETCH_BUDGET_SECONDS")
    media_link_seconds: int = Field(300, gt=0, alias="MEDIA_LINK_SECONDS")
    media_base_url: str | None = Field(None, alias="MEDIA_BASE_URL")
    local_url: str | None = Field(None, alias="CHATBRIDGE_LOCAL_URL", description="set by the local stack")


_NAMES = tuple(field.alias for field in Settings.model_fields.values() if field.alias)


def settings() -> Settings:
    """The current environment's settings (empty values count as unset)."""
    return _parse(tuple(os.environ.get(name) or None for name in _NAMES))


@lru_cache(maxsize=8)
def _parse(values: tuple[str | None, ...]) -> Settings:
    return Settings.model_validate({name: value for name, value in zip(_NAMES, values, strict=True) if value is not None})
