"""DynamoDB attribute values as JSON: boto3's low-level client hands binary values over as bytes.

Lambda stream events and the ``--data`` state files both carry binary attributes as base64 text.
"""

from __future__ import annotations

import base64
from typing import Any


def item_to_json(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value_to_json(value) for name, value in item.items()}


def value_to_json(value: dict[str, Any]) -> dict[str, Any]:
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(v).decode("ascii") for v in inner]}
    if kind == "M":
        return {"M": item_to_json(inner)}
    if kind == "L":
        return {"L": [value_to_json(v) for v in inner]}
    return {kind: inner}


def item_from_json(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value_from_json(value) for name, value in item.items()}


def value_from_json(value: dict[str, Any]) -> dict[str, Any]:
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v) for v in inner]}
    if kind == "M":
        return {"M": item_from_json(inner)}
    if kind == "L":
        return {"L": [value_from_json(v) for v in inner]}
    return {kind: inner}
