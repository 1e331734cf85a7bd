"""Secrets (REST API headers and URL paths, media fetch headers), read from SSM Parameter Store (SecureString)
when they are used, never stored with the definitions that name them."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chatbridge.errors import ChatbridgeError

CACHE_SECONDS = 300
_cache: dict[str, tuple[float, str]] = {}


class SecretNotFound(ChatbridgeError, LookupError):
    """A header names an SSM parameter that does not exist (permanent until an operator creates it)."""


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
