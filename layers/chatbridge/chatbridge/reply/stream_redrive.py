"""``chatbridge deliveries redrive --stream``: the stream records the evaluator gave up on, evaluated again.

Each failure record names a range of the chat stream; its records are read again and go through the
evaluator's own ``evaluate_record``. Job ids are derived from (chat, message, webhook, event), so a record
that had queued its jobs before it failed queues the same ids again and the dispatcher's claim sends each
reply at most once. A failure record leaves the queue only when every record of its range went through (or
the stream no longer holds them, which the answer says); a record that fails again keeps it for the next
redrive. The work stops starting new batches after ``budget_seconds``, inside API Gateway's 29 s, and says
whether more remain.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from chatbridge.reply.pipeline import ReplyStorage, evaluate_record
from chatbridge.repository import stream_failures

BUDGET_SECONDS = 20.0


@dataclass
class StreamRedrive:
    batches: int = 0    # failure records whose records all went through
    records: int = 0    # stream records evaluated again
    jobs: int = 0       # dispatch jobs they queued (the dispatcher skips those already sent)
    expired: list[dict[str, Any]] = field(default_factory=list)    # batches the stream no longer holds
    failed: list[dict[str, Any]] = field(default_factory=list)     # batches that failed again (kept)
    unreadable: list[dict[str, Any]] = field(default_factory=list)  # queue messages that are no failure record
    remaining: bool = False  # the time budget ended with failure records left

    def answer(self) -> dict[str, Any]:
        return {"batches": self.batches, "records": self.records, "jobs": self.jobs, "expired": self.expired,
                "failed": self.failed, "unreadable": self.unreadable, "remaining": self.remaining}


def redrive_stream_failures(storage: ReplyStorage, *, budget_seconds: float = BUDGET_SECONDS) -> StreamRedrive:
    deadline = time.monotonic() + budget_seconds
    outcome = StreamRedrive()
    seen: set[str] = set()  # a message kept on the queue is not received twice by one redrive (visibility)
    while True:
        if time.monotonic() >= deadline:
            outcome.remaining = True
            return outcome
        # one at a time: a failure record received is held from other callers, so none is held unprocessed
        received = [(batch, message) for batch, message in stream_failures.receive(max_batches=1)
                    if message["MessageId"] not in seen]
        if not received:
            return outcome
        for batch, message in received:
            seen.add(message["MessageId"])
            if batch is None:
                outcome.unreadable.append({"message_id": message["MessageId"], "body": message["Body"][:200]})
                continue
            _redrive_batch(batch, storage, outcome)


def _redrive_batch(batch: stream_failures.FailedBatch, storage: ReplyStorage, outcome: StreamRedrive) -> None:
    try:
        records = stream_failures.records_of(batch)
    except stream_failures.StreamRecordsGone as gone:
        outcome.expired.append({**batch.describe(), "reason": str(gone)})
        stream_failures.forget(batch)  # no redrive can read them again: reported here, and in the log
        return
    for record in records:
        try:
            jobs = evaluate_record(record, storage)
        except Exception as error:  # noqa: BLE001 - reported per batch; the failure record stays for a later redrive
            outcome.failed.append({**batch.describe(), "sequence_number": record["dynamodb"].get("SequenceNumber"),
                                   "reason": f"{type(error).__name__}: {error}"[:500]})
            return
        outcome.records += 1
        outcome.jobs += len(jobs)
    stream_failures.forget(batch)
    outcome.batches += 1
