"""Table names from the environment and cached boto3 handles.

Names come from ``template.yaml`` (``CONFIG_TABLE``, ``CHAT_TABLE``, ``DELIVERY_TABLE``); ``AWS_ENDPOINT_URL`` points the
clients at a local stack. Handles are cached per (name, endpoint) so a warm Lambda reuses connections,
and ``forget_clients`` lets tests start over inside a fresh moto mock.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from chatbridge.repository.values import plain, storable  # noqa: F401 (the repository modules' conversions)
from chatbridge.settings import settings

_DESERIALIZE = TypeDeserializer()  # items a cancelled transaction returns come in DynamoDB's own JSON


def cancelled_item(reasons: list[dict[str, Any]], index: int) -> dict[str, Any] | None:
    """The item a cancelled ``TransactWriteItems`` returned for its ``index``-th write (the write asked for it
    with ``ReturnValuesOnConditionCheckFailure`` and its condition failed), as Python values; else None."""
    if index >= len(reasons) or reasons[index].get("Code") != "ConditionalCheckFailed":
        return None
    item = reasons[index].get("Item")
    if not item:
        return None
    return {name: _DESERIALIZE.deserialize(value) for name, value in item.items()}


@lru_cache(maxsize=8)
def _resource(endpoint_url: str | None) -> Any:
    return boto3.resource("dynamodb", endpoint_url=endpoint_url or None)


def _table_name(env: str) -> str:
    name = getattr(settings(), env.lower())
    if not name:
        raise RuntimeError(f"environment variable {env} is not set (template.yaml sets it for every function)")
    return name


def resource() -> Any:
    return _resource(settings().aws_endpoint_url)


def client() -> Any:
    """The resource's client: it (de)serialises plain Python values, transactions included."""
    return resource().meta.client


def config_table_name() -> str:
    return _table_name("CONFIG_TABLE")


def chat_table_name() -> str:
    return _table_name("CHAT_TABLE")


def delivery_table_name() -> str:
    return _table_name("DELIVERY_TABLE")


def config_table() -> Any:
    return resource().Table(config_table_name())


def chat_table() -> Any:
    return resource().Table(chat_table_name())


def delivery_table() -> Any:
    return resource().Table(delivery_table_name())


def forget_clients() -> None:
    _resource.cache_clear()
