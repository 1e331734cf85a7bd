"""JSON values to and from what DynamoDB stores: one conversion for every table and stream record.

DynamoDB hands numbers back as ``Decimal`` and refuses Python floats and empty attribute names; the rest
of chatbridge thinks in JSON values. Pure (no AWS call), so the domain can decode stream images with it.
"""

from __future__ import annotations

from decimal import Decimal, DecimalException
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT

# A message item's copy of its chat as the write that stored the message left it (operator replies:
# ``reply_storage``), read from the stream image by the evaluator instead of the chat; never shown as the message
CHAT_SNAPSHOT = "chat_snapshot"

_SAFE_INT = 10**38  # fewer than 38 digits: always a DynamoDB number
# DynamoDB's magnitude range; boto3's context still takes subnormal numbers below it (3.4e-148 passes boto3,
# then DynamoDB refuses the whole item with "Number underflow")
_SMALLEST, _LARGEST = Decimal("1E-130"), Decimal("1E+126")


def plain(value: Any) -> Any:
    """DynamoDB's Decimals as the ints/floats they are, so values render and compare as JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(item) for item in value)
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
    if not number.is_finite() or (number and not _SMALLEST <= abs(number) < _LARGEST):
        return repr(value)
    try:
        DYNAMODB_CONTEXT.create_decimal(number)
    except DecimalException:
        return repr(value)
    return number if isinstance(value, float) else value
