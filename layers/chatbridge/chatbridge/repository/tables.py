"""Table names from the environment and cached boto3 handles.

Names come from ``template.yaml`` (``CONFIG_TABLE``, ``CHAT_TABLE``); ``AWS_ENDPOINT_URL`` points the
clients at a local stack. Handles are cached per (name, endpoint) so a warm Lambda reuses connections,
and ``forget_clients`` lets tests start over inside a fresh moto mock.
"""

from __future__ import annotations

import os
from decimal import Decimal, DecimalException
from functools import lru_cache
from typing import Any

import boto3
from boto3.dynamodb.types import DYNAMODB_CONTEXT

CONFIG_TABLE_ENV = "CONFIG_TABLE"
CHAT_TABLE_ENV = "CHAT_TABLE"
_SAFE_INT = 10**38  # fewer than 38 digits: always a DynamoDB number


@lru_cache(maxsize=8)
def _resource(endpoint_url: str | None) -> Any:
    return boto3.resource("dynamodb", endpoint_url=endpoint_url or None)


def _table_name(env: str) -> str:
    name = os.environ.get(env)
    if not name:
        raise RuntimeError(f"environment variable {env} is not set (template.yaml sets it for every function)")
    return name


def resource() -> Any:
    return _resource(os.environ.get("AWS_ENDPOINT_URL"))


def client() -> Any:
    """The resource's client: it (de)serialises plain Python values, transactions included."""
    return resource().meta.client


def config_table_name() -> str:
    return _table_name(CONFIG_TABLE_ENV)


def chat_table_name() -> str:
    return _table_name(CHAT_TABLE_ENV)


def config_table() -> Any:
    return resource().Table(config_table_name())


def chat_table() -> Any:
    return resource().Table(chat_table_name())


def forget_clients() -> None:
    _resource.cache_clear()


def plain(value: Any) -> Any:
    """DynamoDB's Decimals back to ints/floats, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def storable(value: Any) -> Any:
    """JSON values as DynamoDB takes them: floats become Decimals (it refuses Python floats).

    A number DynamoDB cannot hold (more than 38 significant digits, or beyond 1E+125 / 1E-130) is kept
    as its exact JSON text instead: a provider's 60-digit id must not turn a delivery into a storage error.
    An entry whose key is empty is left out: DynamoDB has no empty attribute names (no template can name one).
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, dict):
        return {str(k): storable(v) for k, v in value.items() if str(k)}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return value


def _number(value: int | float) -> Any:
    if isinstance(value, int) and -_SAFE_INT < value < _SAFE_INT:
        return value
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        return repr(value)
    try:
        DYNAMODB_CONTEXT.create_decimal(number)
    except DecimalException:
        return repr(value)
    return number if isinstance(value, float) else value
