"""DynamoDB attribute values as JSON: boto3's low-level client hands binary values over as bytes.

Lambda stream events and the ``--data`` state files both carry binary attributes as base64 text. Pure: the
deployed stream redrive (``repository.stream_failures``) shapes re-read records with it as the local pollers do.
"""

from __future__ import annotations

import base64
from datetime import datetime
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


def lambda_stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A DynamoDB stream record as boto3 returns it, re-shaped as the Lambda event record."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    for key in ("Keys", "NewImage", "OldImage"):
        if key in dynamodb:
            dynamodb[key] = item_to_json(dynamodb[key])
    return {"eventID": record["eventID"], "eventName": record["eventName"], "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": dynamodb,
            "eventSourceARN": stream_arn}
