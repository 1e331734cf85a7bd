"""The local stream pollers read DynamoDB Streams from moto's backend in this process, not over HTTP.

Why: the pollers run in the stack's own process, beside moto. Reading through a boto3 client meant two
HTTP requests per poll (``GetShardIterator``, ``GetRecords``), each serialised by botocore, parsed by
werkzeug and moto, its answer written as JSON and parsed back by botocore: under the ``local_stack``
bench load that was about a fifth of the stack process's GIL time (``py-spy record --gil``), for records
that were already Python objects one module away. :class:`BackendStreams` answers the three calls the
pollers make with the same shapes boto3 gives (binary attribute values as ``bytes``, the creation time as
an aware ``datetime``), so a poller cannot tell which reader it was handed and the tests that give it a
real client still hold.
"""

from __future__ import annotations

from datetime import UTC
from types import SimpleNamespace
from typing import Any


class BackendStreams:
    """``describe_stream``, ``get_shard_iterator`` and ``get_records`` of a DynamoDB Streams client, served
    by moto's backend for ``region`` in this process (moto must be running here, as in the local stack)."""

    def __init__(self, *, region: str, endpoint_url: str) -> None:
        self._region = region
        self.meta = SimpleNamespace(endpoint_url=endpoint_url)  # where a poller makes its on-failure SQS client

    def _backend(self) -> Any:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        return dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][self._region]

    def describe_stream(self, *, StreamArn: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter names
        stream = self._backend().describe_stream(StreamArn)
        return {"StreamDescription": {"StreamArn": StreamArn,
                                      "Shards": [{"ShardId": shard["ShardId"]} for shard in stream["Shards"]]}}

    def get_shard_iterator(self, *, StreamArn: str, ShardId: str, ShardIteratorType: str,  # noqa: N803
                           SequenceNumber: str | None = None) -> dict[str, Any]:
        number = int(SequenceNumber) if SequenceNumber is not None else None  # as moto's handler converts it
        iterator = self._backend().get_shard_iterator(StreamArn, ShardId, ShardIteratorType, number)
        return {"ShardIterator": iterator.arn}

    def get_records(self, *, ShardIterator: str, Limit: int = 1000) -> dict[str, Any]:  # noqa: N803
        answer = self._backend().get_records(ShardIterator, Limit)
        return {"NextShardIterator": answer["NextShardIterator"],
                "Records": [_as_boto3(record) for record in answer["Records"]]}


def _as_boto3(record: dict[str, Any]) -> dict[str, Any]:
    """A moto stream record as boto3 parses it off the wire. Only the creation time differs, a naive UTC
    ``datetime`` in moto, made aware here; the images are already boto3's (moto keeps binary values as
    ``bytes``) and are not copied: the poller only reads them, and ``lambda_stream_record`` writes the event's
    images afresh."""
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    if created is None or getattr(created, "tzinfo", None) is not None:
        return record
    return {**record, "dynamodb": {**record["dynamodb"], "ApproximateCreationDateTime": created.replace(tzinfo=UTC)}}
