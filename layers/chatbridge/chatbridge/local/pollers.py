"""Event source pollers: what Lambda's event source mappings do, done against moto.

moto's own event source mappings swallow stream records, so the local stack polls the DynamoDB stream and
the SQS queues itself and calls the handlers with real batches, applying the template's FilterCriteria,
BatchSize and ReportBatchItemFailures exactly as Lambda documents them.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3

from chatbridge.local.attributes import lambda_stream_record
from chatbridge.local.filters import matches_any, sqs_filter_view
from chatbridge.local.runtime import FunctionError
from chatbridge.local.template import QueueTrigger, StreamTrigger

log = logging.getLogger("chatbridge.local")

Invoke = Callable[[dict[str, Any]], Any]


class Poller(threading.Thread):
    """A daemon thread that polls until stopped; ``poll_once`` does one round and says if it found work."""

    idle_wait = 0.2

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self.poll_once()
            except Exception:  # noqa: BLE001 - a poller must survive anything and say what happened
                log.exception("%s: polling failed, retrying", self.name)
                busy = False
            if not busy:
                self._stopping.wait(self.idle_wait)

    def poll_once(self) -> bool:
        raise NotImplementedError


def failed_identifiers(response: Any, identifiers: list[str], report_item_failures: bool) -> set[str] | None:
    """Which records of a batch failed, per Lambda's partial batch response rules.

    Returns None when the whole batch counts as failed (a malformed or unknown itemIdentifier, as Lambda
    treats it); an empty set when everything succeeded. Without ReportBatchItemFailures the answer is
    ignored.
    """
    if not report_item_failures or not isinstance(response, dict):
        return set()
    failures = response.get("batchItemFailures") or []
    if not isinstance(failures, list):
        return None
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in identifiers:
            return None
        failed.add(identifier)
    return failed


def _log_outcome(poller: str, size: int, failed: set[str] | None) -> None:
    if failed == set():
        log.info("%s: batch of %d handled", poller, size)
    elif failed is None:
        log.warning("%s: batch of %d failed as a whole (malformed partial batch response)", poller, size)
    else:
        log.warning("%s: %d of %d records reported failed; they will be retried", poller, len(failed), size)


def stream_failure_record(*, stream_arn: str, shard_id: str, records: list[dict[str, Any]], function_name: str,
                          region: str, attempts: int, condition: str = "RetryAttemptsExhausted") -> dict[str, Any]:
    """What Lambda sends a stream trigger's on-failure destination for a batch it gave up on: where the
    records are (shard and sequence range), never the records themselves."""
    arrivals = [r["dynamodb"].get("ApproximateCreationDateTime") for r in (records[0], records[-1])]
    when = [datetime.fromtimestamp(a, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(a, (int, float))
            else None for a in arrivals]
    return {
        "requestContext": {"requestId": str(uuid.uuid4()), "condition": condition, "approximateInvokeCount": attempts,
                           "functionArn": f"arn:aws:lambda:{region}:123456789012:function:{function_name}"},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "DDBStreamBatchInfo": {"shardId": shard_id, "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                               "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                               "approximateArrivalOfFirstRecord": when[0], "approximateArrivalOfLastRecord": when[1],
                               "batchSize": len(records), "streamArn": stream_arn}}


class StreamPoller(Poller):
    """Follows a table's stream from LATEST; failed records are re-delivered from the first failure.

    Like Lambda ("polls shards in your DynamoDB stream for records at a base rate of 4 times per second"),
    it reads the stream at most every ``read_interval`` seconds, also while records keep coming: reading
    again as soon as a batch was handled made a read (two moto requests in the stack's own process) and an
    invocation per one or two records under load, a fifth of the stack process's busy time."""

    read_interval = 0.25

    def __init__(self, *, function_name: str, trigger: StreamTrigger, stream_arn: str, streams: Any,
                 invoke: Invoke, region: str, retry_delay: float = 0.5, failures: Any = None,
                 resume: bool = False,
                 on_checkpoint: Callable[[StreamPoller, int], None] | None = None) -> None:
        """``resume``: start from the oldest record the stream kept (what an earlier run of the stack had not
        finished) instead of the trigger's starting position. ``on_checkpoint(poller, sequence)`` hears the
        sequence number through which this poller is done with the stream (handled, filtered out or given up
        on), so records every reader is done with can be dropped."""
        super().__init__(name=f"{function_name}<-{trigger.table_logical_id} stream")
        self.function_name = function_name
        self.trigger = trigger
        self.stream_arn = stream_arn
        self._streams = streams
        self._invoke = invoke
        self._region = region
        self._retry_delay = retry_delay
        self._positions: dict[str, str | None] = {}  # shard -> last sequence number read
        self._shards: dict[str, str] = {}  # sequence number of a pending record -> its shard
        self._pending: list[dict[str, Any]] = []
        self._attempts = 0
        self._batch_limit = trigger.batch_size
        self._failures = failures  # SQS client for the on-failure queue; by default made (on the streams'
        # endpoint: the local stack's moto) when first needed
        self._resume = resume
        self._on_checkpoint = on_checkpoint
        self._checkpoint: int | None = None
        self._last_read = 0.0  # time.monotonic() of the last read of the stream
        self.start_position()

    def start_position(self) -> None:
        """Note where each shard ends now, so records written after this call are seen (LATEST at start)."""
        description = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self._positions:
                continue
            last = None
            if self.trigger.starting_position == "LATEST" and not self._resume:
                iterator = self._iterator(shard_id, None)
                while True:
                    records = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                    if not records.get("Records"):
                        break
                    last = records["Records"][-1]["dynamodb"]["SequenceNumber"]
                    iterator = records["NextShardIterator"]
            self._positions[shard_id] = last

    def _iterator(self, shard_id: str, after: str | None) -> str:
        """A fresh iterator each read: moto replaces a table's stream object when a transaction fails, which
        strands older iterators, so the position is kept as a sequence number instead."""
        if after is None:
            return self._streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id,
                                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return self._streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id,
                                                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                                SequenceNumber=after)["ShardIterator"]

    def poll_once(self) -> bool:
        try:
            return self._poll()
        finally:
            self._report_checkpoint()

    def _report_checkpoint(self) -> None:
        if self._on_checkpoint is None:
            return
        if self._pending:
            done = int(self._pending[0]["dynamodb"]["SequenceNumber"]) - 1
        else:
            positions = [int(position) for position in self._positions.values() if position is not None]
            if not positions:
                return
            done = min(positions)
        if done != self._checkpoint:
            self._checkpoint = done
            self._on_checkpoint(self, done)

    def _poll(self) -> bool:
        self._read()
        if not self._pending:
            return False
        batch = self._pending[: self._batch_limit]
        identifiers = [record["dynamodb"]["SequenceNumber"] for record in batch]
        function_error = False
        try:
            failed = failed_identifiers(self._invoke({"Records": batch}), identifiers,
                                        self.trigger.report_batch_item_failures)
        except FunctionError as exc:
            log.warning("%s: function error on a batch of %d stream records: %s", self.name, len(batch), exc)
            failed, function_error = None, True
        _log_outcome(self.name, len(batch), failed)
        if failed == set():
            del self._pending[: len(batch)]
            self._attempts = 0
            self._batch_limit = self.trigger.batch_size
            return True
        if function_error and self.trigger.bisect_on_error and len(batch) > 1:
            self._batch_limit = len(batch) // 2  # BisectBatchOnFunctionError: halves do not count as retries
            log.info("%s: bisecting, retrying the first %d records", self.name, self._batch_limit)
            return True
        self._retry_or_give_up(identifiers, 0 if failed is None else min(identifiers.index(i) for i in failed))
        return True

    def _retry_or_give_up(self, identifiers: list[str], first: int) -> None:
        """Lambda checkpoints the records before the first failure and retries from it, until
        MaximumRetryAttempts is spent; then it skips the failed part of the batch and moves on."""
        del self._pending[:first]
        self._attempts += 1
        limit = self.trigger.maximum_retry_attempts
        if 0 <= limit < self._attempts:
            log.error("%s: giving up on %d stream records from sequence number %s after %d retries",
                      self.name, len(identifiers) - first, identifiers[first], limit)
            self._send_to_on_failure_destination(self._pending[: len(identifiers) - first])
            del self._pending[: len(identifiers) - first]
            self._attempts = 0
            self._batch_limit = self.trigger.batch_size
            return
        log.info("%s: retrying from sequence number %s (attempt %d)", self.name, identifiers[first],
                 self._attempts + 1)
        self._stopping.wait(min(self._retry_delay * 2 ** (self._attempts - 1), 30))

    def _send_to_on_failure_destination(self, records: list[dict[str, Any]]) -> None:
        """As Lambda does with DestinationConfig.OnFailure: one record naming the shard and sequence range."""
        url = self.trigger.on_failure_queue_url
        if not url or not records:
            return
        if self._failures is None:
            endpoint = self._streams.meta.endpoint_url
            self._failures = boto3.client("sqs", endpoint_url=endpoint, region_name=self._region,
                                          aws_access_key_id="local", aws_secret_access_key="local")
        shard_id = self._shards.get(records[0]["dynamodb"]["SequenceNumber"], "")
        failure = stream_failure_record(stream_arn=self.stream_arn, shard_id=shard_id, records=records,
                                        function_name=self.function_name, region=self._region,
                                        attempts=self._attempts)
        self._failures.send_message(QueueUrl=url, MessageBody=json.dumps(failure))
        log.warning("%s: sent the %d records to the on-failure queue (`chatbridge deliveries redrive --stream` "
                    "replays them)", self.name, len(records))

    def _read(self) -> None:
        """Fetch new records from every shard into the pending list, dropping those no filter matches."""
        if len(self._pending) >= self.trigger.batch_size:
            return
        wait = self._last_read + self.read_interval - time.monotonic()
        if wait > 0 and self._stopping.wait(wait):
            return
        self._last_read = time.monotonic()
        for shard_id, after in list(self._positions.items()):
            answer = self._streams.get_records(ShardIterator=self._iterator(shard_id, after), Limit=1000)
            for raw in answer.get("Records", []):
                self._positions[shard_id] = raw["dynamodb"]["SequenceNumber"]
                record = lambda_stream_record(raw, self.stream_arn, self._region)
                if matches_any(self.trigger.filters, record):
                    self._pending.append(record)
                    self._shards[raw["dynamodb"]["SequenceNumber"]] = shard_id


class QueuePoller(Poller):
    """Receives up to BatchSize messages, deletes the ones that succeeded; the rest come back later."""

    idle_wait = 0.05

    def __init__(self, *, function_name: str, trigger: QueueTrigger, queue_url: str, queue_arn: str, sqs: Any,
                 invoke: Invoke, region: str, wait_seconds: int = 1) -> None:
        super().__init__(name=f"{function_name}<-{trigger.queue_logical_id} queue")
        self._wait_seconds = wait_seconds
        self.trigger = trigger
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self._sqs = sqs
        self._invoke = invoke
        self._region = region

    def poll_once(self) -> bool:
        messages = self._receive()
        if not messages:
            return False
        records = [self._record(message) for message in messages]
        kept = [r for r in records if matches_any(self.trigger.filters, sqs_filter_view(r))]
        dropped = [r for r in records if r not in kept]
        self._delete_messages(dropped)  # Lambda deletes messages that match no filter
        if not kept:
            return True
        identifiers = [record["messageId"] for record in kept]
        try:
            failed = failed_identifiers(self._invoke({"Records": kept}), identifiers,
                                        self.trigger.report_batch_item_failures)
        except FunctionError as exc:
            log.warning("%s: function error on a batch of %d messages: %s", self.name, len(kept), exc)
            return True  # nothing deleted: every message comes back after its visibility timeout
        _log_outcome(self.name, len(kept), failed)
        if failed is None:
            return True
        self._delete_messages([r for r in kept if r["messageId"] not in failed])
        return True

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        seen: set[str] = set()
        wait = self._wait_seconds
        while len(messages) < self.trigger.batch_size and not self._stopping.is_set():
            answer = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, self.trigger.batch_size - len(messages)),
                WaitTimeSeconds=wait, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
            received = [m for m in answer.get("Messages", []) if m["MessageId"] not in seen]
            if not received:
                break  # empty, or (visibility timeout 0) the same messages again
            seen.update(m["MessageId"] for m in received)
            messages.extend(received)
            if self.trigger.batch_size <= 10:
                break  # one receive fills the batch; asking again would only count extra receives
            wait = 0
        return messages

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {}
        for name, value in (message.get("MessageAttributes") or {}).items():
            attributes[name] = {
                "stringValue": value.get("StringValue"),
                "binaryValue": base64.b64encode(value["BinaryValue"]).decode() if "BinaryValue" in value else None,
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []), "dataType": value.get("DataType")}
        return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                "body": message.get("Body", ""), "attributes": message.get("Attributes", {}),
                "messageAttributes": attributes, "md5OfBody": message.get("MD5OfBody"),
                "eventSource": "aws:sqs", "eventSourceARN": self.queue_arn, "awsRegion": self._region}

    def _delete_messages(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start:start + 10]
            answer = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)])
            for failure in answer.get("Failed", []):
                log.warning("%s: could not delete a message: %s", self.name, failure.get("Message"))
