"""The dispatch queue (SQS): enqueue jobs, delay a retry, put dead-lettered jobs back."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import boto3

from chatbridge.errors import ChatbridgeError
from chatbridge.reply.dispatch import DispatchJob
from chatbridge.settings import settings

QUEUE_ENV = "DISPATCH_QUEUE_URL"
DLQ_ENV = "DISPATCH_DLQ_URL"
MAX_VISIBILITY_SECONDS = 43_200


class QueueError(ChatbridgeError):
    """SQS refused some messages; the caller reports its batch item as failed so it is tried again."""


@lru_cache(maxsize=1)
def _sqs() -> Any:
    return boto3.client("sqs")


def _url(env: str) -> str:
    url = getattr(settings(), env.lower())
    if not url:
        raise QueueError(f"{env} is not set: the function's template must pass the queue URL")
    return url


def enqueue(jobs: list[DispatchJob], *, queue_url: str | None = None) -> None:
    """Send jobs in batches of ten; raises ``QueueError`` naming the jobs SQS refused."""
    url = queue_url or _url(QUEUE_ENV)
    for start in range(0, len(jobs), 10):
        chunk = jobs[start:start + 10]
        answer = _sqs().send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(index), "MessageBody": job.model_dump_json()} for index, job in enumerate(chunk)])
        failed = answer.get("Failed") or []
        if failed:
            names = ", ".join(f"{chunk[int(entry['Id'])].job_id} ({entry.get('Message', entry.get('Code'))})"
                              for entry in failed)
            raise QueueError(f"SQS refused dispatch jobs: {names}")


def dead_letters_waiting() -> int:
    """About how many jobs wait in the dead-letter queue (SQS's approximate count)."""
    answer = _sqs().get_queue_attributes(QueueUrl=_url(DLQ_ENV), AttributeNames=["ApproximateNumberOfMessages"])
    return int(answer["Attributes"].get("ApproximateNumberOfMessages", 0))


def dead_letter(job: DispatchJob) -> None:
    """A job that failed for good goes straight to the DLQ, where ``deliveries redrive`` can retry it."""
    _sqs().send_message(QueueUrl=_url(DLQ_ENV), MessageBody=job.model_dump_json())


def delay(receipt_handle: str, seconds: int, *, queue_url: str | None = None) -> None:
    """Backoff: the failed message stays invisible for ``seconds`` before SQS hands it out again."""
    _sqs().change_message_visibility(QueueUrl=queue_url or _url(QUEUE_ENV), ReceiptHandle=receipt_handle,
                                     VisibilityTimeout=max(0, min(MAX_VISIBILITY_SECONDS, int(seconds))))


def redrive(*, limit: int = 1000, seconds: float | None = None) -> int:
    """Move up to ``limit`` jobs from the dead-letter queue back to the dispatch queue, for at most ``seconds``
    (the admin API answers within API Gateway's 29 s); returns how many."""
    source, target = _url(DLQ_ENV), _url(QUEUE_ENV)
    moved = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    while moved < limit and (deadline is None or time.monotonic() < deadline):
        messages = _sqs().receive_message(QueueUrl=source, MaxNumberOfMessages=min(10, limit - moved),
                                          WaitTimeSeconds=0, VisibilityTimeout=60).get("Messages", [])
        if not messages:
            break
        for message in messages:
            _sqs().send_message(QueueUrl=target, MessageBody=message["Body"])
            _sqs().delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved
