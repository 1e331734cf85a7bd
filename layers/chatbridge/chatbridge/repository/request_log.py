"""The per-spec request log (LHC's "log request"): raw requests and their outcome, expiring by TTL.

Items live in CONFIG_TABLE (not CHAT_TABLE, whose stream must carry only chats and messages):
``REQLOG#<identifier>`` / ``<epoch ms>#<random>``, ``type`` ``request_log``, ``expires_at`` (TTL,
``REQUEST_LOG_DAYS``, default 7). Bodies are cut at 32 KiB and secret-bearing headers are masked.
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any

from boto3.dynamodb.conditions import Key

from chatbridge.repository import tables

MAX_BODY_CHARS = 32_768
DEFAULT_DAYS = 7
SECRET_HEADERS = frozenset({"authorization", "x-telegram-bot-api-secret-token", "x-hub-signature",
                            "x-hub-signature-256", "x-twilio-signature", "cookie", "x-amz-security-token"})


def _pk(identifier: str) -> str:
    return f"REQLOG#{identifier}"


def record_request(identifier: str, *, method: str, headers: dict[str, str], query: dict[str, str],
                   body: str, status: int, outcome: dict[str, Any]) -> None:
    now = time.time()
    days = float(os.environ.get("REQUEST_LOG_DAYS", DEFAULT_DAYS))
    masked = {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
    tables.config_table().put_item(Item={
        "pk": _pk(identifier), "sk": f"{int(now * 1000):013d}#{secrets.token_hex(4)}", "type": "request_log",
        "received_at": int(now), "expires_at": int(now + days * 86400), "method": method, "headers": masked,
        "query": dict(query), "body": body[:MAX_BODY_CHARS], "body_truncated": len(body) > MAX_BODY_CHARS,
        "status": status, "outcome": tables.storable(outcome)})


def list_requests(identifier: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first."""
    answer = tables.config_table().query(KeyConditionExpression=Key("pk").eq(_pk(identifier)),
                                         ScanIndexForward=False, Limit=limit, ConsistentRead=True)
    now = time.time()  # DynamoDB deletes expired items lazily: hide them at once
    return [{k: v for k, v in tables.plain(item).items() if k not in ("pk", "sk", "type")}
            for item in answer["Items"] if int(item.get("expires_at", now + 1)) > now]
