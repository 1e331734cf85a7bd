"""The per-spec request log (LHC's "log request"): raw requests and their outcome, expiring by TTL.

Items live in CONFIG_TABLE (not CHAT_TABLE, whose stream must carry only chats and messages):
``REQLOG#<identifier>`` / ``<epoch ms>#<random>``, ``type`` ``request_log``, ``expires_at`` (TTL,
``REQUEST_LOG_DAYS``, default 7). Bodies are cut at 32 KiB. Secrets are masked before anything is kept
(``chatbridge.spec.redaction``): sensitive headers and query parameters, and secret values or secret query
parameters quoted in the outcome's reasons; the log lives for days and is read by whoever debugs.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.conditions import Key

from chatbridge.repository import tables
from chatbridge.settings import settings
from chatbridge.spec.redaction import mask_document, mask_mapping

MAX_BODY_CHARS = 32_768


def _pk(identifier: str) -> str:
    return f"REQLOG#{identifier}"


def record_request(identifier: str, *, method: str, headers: dict[str, str], query: dict[str, str],
                   body: str, status: int, outcome: dict[str, Any], sensitive_names: Iterable[str] = (),
                   secret_values: Iterable[str] = ()) -> None:
    """``sensitive_names``: the header and query names the spec's verification reads; ``secret_values``: its
    secret values (``chatbridge.spec.redaction``), so neither a header nor a reason keeps one."""
    now = time.time()
    days = settings().request_log_days
    names, hidden = frozenset(sensitive_names), list(secret_values)
    tables.config_table().put_item(Item={
        "pk": _pk(identifier), "sk": f"{int(now * 1000):013d}#{secrets.token_hex(4)}", "type": "request_log",
        "received_at": int(now), "expires_at": int(now + days * 86400), "method": method,
        "headers": mask_mapping(headers, names), "query": mask_mapping(query, names),
        "body": body[:MAX_BODY_CHARS], "body_truncated": len(body) > MAX_BODY_CHARS,
        "status": status, "outcome": tables.storable(mask_document(outcome, hidden, names))})


def list_requests(identifier: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first."""
    answer = tables.config_table().query(KeyConditionExpression=Key("pk").eq(_pk(identifier)),
                                         ScanIndexForward=False, Limit=limit, ConsistentRead=True)
    now = time.time()  # DynamoDB deletes expired items lazily: hide them at once
    return [{k: v for k, v in tables.plain(item).items() if k not in ("pk", "sk", "type")}
            for item in answer["Items"] if int(item.get("expires_at", now + 1)) > now]
