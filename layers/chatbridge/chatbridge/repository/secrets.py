"""Secrets (REST API headers and URL paths, media fetch headers), read from SSM Parameter Store (SecureString)
when they are used, never stored with the definitions that name them.

The admin API writes, lists and deletes them here too (``chatbridge secrets``), so the local stack (moto) and
AWS are set up the same way; listing never asks SSM to decrypt, so no value leaves SSM through the admin API.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chatbridge.errors import SecretNotFound, SecretRefused

CACHE_SECONDS = 300
_cache: dict[str, tuple[float, str]] = {}


@lru_cache(maxsize=1)
def _ssm() -> Any:
    return boto3.client("ssm")


def resolve_secrets(names: list[str]) -> dict[str, str]:
    """Decrypted values by name, cached for five minutes so a busy dispatcher does not hammer SSM."""
    now = time.monotonic()
    wanted = [name for name in names if name not in _cache or _cache[name][0] < now]
    for start in range(0, len(wanted), 10):
        chunk = wanted[start:start + 10]
        try:
            answer = _ssm().get_parameters(Names=chunk, WithDecryption=True)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied"):
                raise SecretNotFound(f"SSM parameter(s) {', '.join(chunk)} cannot be read by the dispatcher "
                                     f"({error.response['Error'].get('Message', 'access denied')})") from None
            raise
        if answer.get("InvalidParameters"):
            raise SecretNotFound(f"SSM parameter(s) not found: {', '.join(answer['InvalidParameters'])}")
        for parameter in answer["Parameters"]:
            _cache[parameter["Name"]] = (now + CACHE_SECONDS, parameter["Value"])
    return {name: _cache[name][1] for name in names}


def forget_secrets() -> None:
    _cache.clear()


def put_secret(name: str, value: str) -> int:
    """Write ``name`` as a SecureString (the account's default ``aws/ssm`` key), overwriting; returns its version.

    This process's cached copy is dropped, so a reply sent from here reads the new value at once (other
    functions' caches expire after ``CACHE_SECONDS``)."""
    try:
        answer = _ssm().put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True, Tier="Standard")
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ValidationException", "HierarchyLevelLimitExceededException",
                                               "HierarchyTypeMismatchException", "ParameterPatternMismatchException",
                                               "UnsupportedParameterType", "ParameterMaxVersionLimitExceeded"):
            raise SecretRefused(f"SSM refused {name}: {error.response['Error'].get('Message', 'invalid')}") from None
        raise
    finally:
        _cache.pop(name, None)
    return int(answer.get("Version", 1))


def list_secrets(prefix: str) -> list[dict[str, Any]]:
    """Name, type, version and last-modified time of every parameter under ``prefix``, values left out.

    ``GetParametersByPath`` without decryption: the IAM policy can be limited to the prefix (DescribeParameters
    cannot be), and no value is ever decrypted for a listing."""
    found: list[dict[str, Any]] = []
    pages = _ssm().get_paginator("get_parameters_by_path").paginate(
        Path=prefix.rstrip("/"), Recursive=True, WithDecryption=False)
    for page in pages:
        for parameter in page["Parameters"]:
            modified = parameter.get("LastModifiedDate")
            found.append({"name": parameter["Name"], "type": parameter.get("Type"),
                          "version": parameter.get("Version"),
                          "last_modified": modified.isoformat() if hasattr(modified, "isoformat") else modified})
    return sorted(found, key=lambda entry: entry["name"])


def delete_secret(name: str) -> bool:
    """Delete ``name``; False when there was no such parameter. This process's cached copy is dropped."""
    try:
        _ssm().delete_parameter(Name=name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return False
        raise
    finally:
        _cache.pop(name, None)
    return True
