"""The chat stream's failed batches: Lambda's on-failure records (SQS) and the stream records they name.

When the evaluator gives up on stream records (retries spent, or the records grew older than the trigger's
``MaximumRecordAgeInSeconds``), Lambda sends its on-failure destination a record that says where they were
(``DDBStreamBatchInfo``: stream, shard, first and last sequence number), not the records themselves. They
can be read again (``GetShardIterator`` ``AT_SEQUENCE_NUMBER`` + ``GetRecords``) while the stream keeps them:
24 hours. ``records_of`` hands them over shaped as the Lambda event carries them, so the evaluator's own
code re-evaluates them unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chatbridge.errors import ChatbridgeError
from chatbridge.local.attributes import lambda_stream_record
from chatbridge.settings import settings

QUEUE_ENV = "STREAM_FAILURE_QUEUE_URL"
VISIBILITY_SECONDS = 120  # one redrive's hold on a failure record; an unfinished one comes back after it
MAX_READS = 200  # GetRecords calls for one batch (1,000 records each): a bound, far above any batch size
MAX_EMPTY_READS = 5  # empty pages in a row after which the shard's tip is taken as reached
# What DynamoDB Streams answers when the records are no longer there to read
GONE_CODES = frozenset({"TrimmedDataAccessException", "ResourceNotFoundException"})


class StreamFailureError(ChatbridgeError):
    """The failure queue is not configured, or one of its records cannot be read as Lambda writes them."""


class StreamRecordsGone(ChatbridgeError):
    """The stream no longer holds a failed batch's records (kept 24 hours, or the stream was replaced)."""


@dataclass(frozen=True)
class FailedBatch:
    """One on-failure record: where the records were, and the SQS message to delete once they are redriven."""

    message_id: str
    receipt_handle: str
    stream_arn: str
    shard_id: str
    start_sequence_number: str
    end_sequence_number: str
    batch_size: int
    condition: str  # RetryAttemptsExhausted, RecordAgeExceeded...
    first_arrival: str | None

    def describe(self) -> dict[str, Any]:
        return {"shard_id": self.shard_id, "start_sequence_number": self.start_sequence_number,
                "end_sequence_number": self.end_sequence_number, "batch_size": self.batch_size,
                "condition": self.condition, "first_arrival": self.first_arrival}


@lru_cache(maxsize=1)
def _sqs() -> Any:
    return boto3.client("sqs")


@lru_cache(maxsize=1)
def _streams() -> Any:
    return boto3.client("dynamodbstreams")


def _queue_url() -> str:
    url = settings().stream_failure_queue_url
    if not url:
        raise StreamFailureError(f"{QUEUE_ENV} is not set: the function's template must pass the evaluator's "
                                 "on-failure queue")
    return url


def parse(body: str, *, message_id: str = "", receipt_handle: str = "") -> FailedBatch:
    """An on-failure record as Lambda writes it for a DynamoDB stream; ``StreamFailureError`` says what is off."""
    try:
        document = json.loads(body)
        info = document["DDBStreamBatchInfo"]
        return FailedBatch(
            message_id=message_id, receipt_handle=receipt_handle, stream_arn=str(info["streamArn"]),
            shard_id=str(info["shardId"]), start_sequence_number=str(int(info["startSequenceNumber"])),
            end_sequence_number=str(int(info["endSequenceNumber"])), batch_size=int(info.get("batchSize") or 0),
            condition=str((document.get("requestContext") or {}).get("condition") or "unknown"),
            first_arrival=info.get("approximateArrivalOfFirstRecord"))
    except (ValueError, TypeError, KeyError) as error:
        raise StreamFailureError(f"message {message_id or '?'} is not a DynamoDB stream on-failure record "
                                 f"({type(error).__name__}: {error})") from None


def receive(max_batches: int = 10) -> list[tuple[FailedBatch | None, dict[str, Any]]]:
    """Up to ``max_batches`` failure records, each held ``VISIBILITY_SECONDS`` for this caller.

    Returns ``(batch, message)`` pairs; ``batch`` is None for a message that is not an on-failure record (it stays
    on the queue, and the caller reports it).
    """
    answer = _sqs().receive_message(QueueUrl=_queue_url(), MaxNumberOfMessages=max(1, min(10, max_batches)),
                                    WaitTimeSeconds=0, VisibilityTimeout=VISIBILITY_SECONDS)
    found = []
    for message in answer.get("Messages", []):
        try:
            batch = parse(message["Body"], message_id=message["MessageId"], receipt_handle=message["ReceiptHandle"])
        except StreamFailureError:
            batch = None
        found.append((batch, message))
    return found


def forget(batch: FailedBatch) -> None:
    """The batch's records were re-evaluated (or are gone for good): its failure record leaves the queue."""
    _sqs().delete_message(QueueUrl=_queue_url(), ReceiptHandle=batch.receipt_handle)


def records_of(batch: FailedBatch) -> list[dict[str, Any]]:
    """The stream records from the batch's first to its last sequence number, as the Lambda event has them."""
    start, end = int(batch.start_sequence_number), int(batch.end_sequence_number)
    try:
        iterator = _streams().get_shard_iterator(StreamArn=batch.stream_arn, ShardId=batch.shard_id,
                                                 ShardIteratorType="AT_SEQUENCE_NUMBER",
                                                 SequenceNumber=batch.start_sequence_number)["ShardIterator"]
        records: list[dict[str, Any]] = []
        empty = 0
        for _ in range(MAX_READS):
            answer = _streams().get_records(ShardIterator=iterator, Limit=1000)
            page = answer.get("Records") or []
            for raw in page:
                number = int(raw["dynamodb"]["SequenceNumber"])
                if number > end:
                    return records
                if number >= start:
                    records.append(lambda_stream_record(raw, batch.stream_arn, raw.get("awsRegion") or _region_of(batch.stream_arn)))
                if number == end:
                    return records
            iterator = answer.get("NextShardIterator")
            # An empty page does not mean the end: DynamoDB may take several calls to reach the part of a shard
            # that holds records. A closed shard has no next iterator; an open one at its tip stays empty.
            empty = empty + 1 if not page else 0
            if not iterator or empty >= MAX_EMPTY_READS:
                return records
        return records
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in GONE_CODES:
            raise StreamRecordsGone(f"the stream no longer holds shard {batch.shard_id} from sequence number "
                                    f"{batch.start_sequence_number} ({code}): DynamoDB keeps stream records for "
                                    "24 hours") from None
        raise


def _region_of(stream_arn: str) -> str:
    return stream_arn.split(":")[3] if stream_arn.count(":") >= 5 else ""


def forget_clients() -> None:
    _sqs.cache_clear()
    _streams.cache_clear()
