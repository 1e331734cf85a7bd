"""The operator console's sign-in settings on AWS, read from the SSM parameter template.yaml writes.

They live in SSM, not in the console function's environment, because the Cognito app client names the
API's URL as its callback and the API names the console function: environment references would make a
CloudFormation dependency cycle. The parameter is a plain String (ids, not secrets), cached per warm Lambda.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

import boto3

CACHE_SECONDS = 300
_cache: dict[str, tuple[float, dict[str, Any]]] = {}


@lru_cache(maxsize=1)
def _ssm() -> Any:
    return boto3.client("ssm")


def read_console_config(name: str) -> dict[str, Any]:
    """The JSON object stored at ``name``; a ``ValueError`` when it is not one (a broken deployment)."""
    now = time.monotonic()
    cached = _cache.get(name)
    if cached and cached[0] > now:
        return cached[1]
    value = json.loads(_ssm().get_parameter(Name=name)["Parameter"]["Value"])
    if not isinstance(value, dict):
        raise ValueError(f"SSM parameter {name} does not hold a JSON object")
    _cache[name] = (now + CACHE_SECONDS, value)
    return value
