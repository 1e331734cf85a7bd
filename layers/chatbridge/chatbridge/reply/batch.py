"""Lambda's partial batch response for the evaluator (stream) and dispatcher (queue) triggers.

Each record is handled on its own; those that raise are reported in ``batchItemFailures`` (a stream
record by its sequence number, a queue message by its id), as the triggers' ``ReportBatchItemFailures``
asks, so Lambda retries only them (a stream from the first failed record on) and the others stand. The
handler logs why a record failed before it raises.

Written here rather than taken from Powertools' batch utility, which behaves the same for these two
triggers: importing that utility pulls in asyncio and every event data class, a third of these functions'
cold start beyond ``import boto3`` (``bench/cold_start.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Record = dict[str, Any]


def stream_record_id(record: Record) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def queue_message_id(record: Record) -> str:
    return str(record["messageId"])


def partial_response(event: dict[str, Any], handle: Callable[[Record], None],
                     item_id: Callable[[Record], str]) -> dict[str, list[dict[str, str]]]:
    """Handle every record of ``event``; the answer names the ones that raised."""
    failures = []
    for record in event.get("Records") or []:
        try:
            handle(record)
        except Exception:  # one record's failure is reported, the rest of the batch still runs
            failures.append({"itemIdentifier": item_id(record)})
    return {"batchItemFailures": failures}
