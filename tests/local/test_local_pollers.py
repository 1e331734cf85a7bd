"""Pollers call handlers the way Lambda's event source mappings do: batches, filters, partial failures."""

import json

import boto3
import pytest
from moto import mock_aws

from chatbridge.local.pollers import QueuePoller, StreamPoller, failed_identifiers
from chatbridge.local.runtime import FunctionError
from chatbridge.local.template import QueueTrigger, StreamTrigger


def test_partial_batch_answers_follow_lambda_rules():
    ids = ["1", "2", "3"]
    assert failed_identifiers({"batchItemFailures": []}, ids, True) == set()
    assert failed_identifiers({"batchItemFailures": [{"itemIdentifier": "2"}]}, ids, True) == {"2"}
    assert failed_identifiers({"batchItemFailures": [{"itemIdentifier": "2"}]}, ids, False) == set()
    assert failed_identifiers(None, ids, True) == set()
    assert failed_identifiers({"batchItemFailures": [{"itemIdentifier": "9"}]}, ids, True) is None
    assert failed_identifiers({"batchItemFailures": [{"itemIdentifier": None}]}, ids, True) is None
    assert failed_identifiers({"batchItemFailures": "oops"}, ids, True) is None


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def table(aws):
    dynamodb = boto3.client("dynamodb")
    description = dynamodb.create_table(
        TableName="chats", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]
    return dynamodb, description["LatestStreamArn"]


class Recorder:
    """An in-process stand-in for a function: records batches, fails what it is told to."""

    def __init__(self, fail_times=None, raise_times=0):
        self.batches = []
        self.fail_times = dict(fail_times or {})
        self.raise_times = raise_times

    def __call__(self, event):
        self.batches.append(event["Records"])
        if self.raise_times:
            self.raise_times -= 1
            raise FunctionError("Fn", "RuntimeError", "boom")
        failures = []
        for record in event["Records"]:
            key = record["dynamodb"]["Keys"]["pk"]["S"] if "dynamodb" in record else record["body"]
            if self.fail_times.get(key, 0) > 0:
                self.fail_times[key] -= 1
                identifier = record["dynamodb"]["SequenceNumber"] if "dynamodb" in record else record["messageId"]
                failures.append({"itemIdentifier": identifier})
        return {"batchItemFailures": failures}


def _stream_poller(table, recorder, **trigger):
    dynamodb, stream_arn = table
    trigger = StreamTrigger(table_logical_id="Chats", **trigger)
    poller = StreamPoller(function_name="Fn", trigger=trigger, stream_arn=stream_arn,
                          streams=boto3.client("dynamodbstreams"), invoke=recorder, region="us-east-1",
                          retry_delay=0)
    return poller


def _put(table, pk, kind="message"):
    table[0].put_item(TableName="chats", Item={"pk": {"S": pk}, "type": {"S": kind}})


def _keys(batch):
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in batch]


def test_stream_starts_at_latest_and_batches_by_batch_size(table):
    _put(table, "before")
    recorder = Recorder()
    poller = _stream_poller(table, recorder, batch_size=2)
    for key in ("a", "b", "c"):
        _put(table, key)
    while poller.poll_once():
        pass
    assert [_keys(b) for b in recorder.batches] == [["a", "b"], ["c"]]
    record = recorder.batches[0][0]
    assert record["eventSource"] == "aws:dynamodb" and record["eventName"] == "INSERT"
    assert record["eventSourceARN"] == table[1]
    assert record["dynamodb"]["NewImage"]["type"] == {"S": "message"}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    json.dumps(record)  # exactly what a handler would get: plain JSON


def test_stream_filters_drop_records_before_batching(table):
    recorder = Recorder()
    poller = _stream_poller(table, recorder, filters=({"dynamodb": {"NewImage": {"type": {"S": ["message"]}}}},))
    _put(table, "chat-1", kind="chat")
    _put(table, "msg-1")
    while poller.poll_once():
        pass
    assert [_keys(b) for b in recorder.batches] == [["msg-1"]]


def test_stream_redelivers_from_the_first_failed_record(table):
    recorder = Recorder(fail_times={"b": 1})
    poller = _stream_poller(table, recorder, report_batch_item_failures=True)
    for key in ("a", "b", "c"):
        _put(table, key)
    while poller.poll_once():
        pass
    assert [_keys(b) for b in recorder.batches] == [["a", "b", "c"], ["b", "c"]]


def test_stream_function_error_retries_the_whole_batch(table):
    recorder = Recorder(raise_times=1)
    poller = _stream_poller(table, recorder, report_batch_item_failures=True)
    _put(table, "a")
    _put(table, "b")
    while poller.poll_once():
        pass
    assert [_keys(b) for b in recorder.batches] == [["a", "b"], ["a", "b"]]


def test_stream_gives_up_after_maximum_retry_attempts_and_moves_on(table):
    recorder = Recorder(fail_times={"poison": 99})
    poller = _stream_poller(table, recorder, report_batch_item_failures=True, maximum_retry_attempts=2)
    _put(table, "poison")
    _put(table, "next")
    while poller.poll_once():
        pass
    _put(table, "later")
    while poller.poll_once():
        pass
    assert [_keys(b) for b in recorder.batches] == [["poison", "next"]] * 3 + [["later"]]


def test_stream_failures_are_ignored_without_report_batch_item_failures(table):
    recorder = Recorder(fail_times={"a": 5})
    poller = _stream_poller(table, recorder, report_batch_item_failures=False)
    _put(table, "a")
    while poller.poll_once():
        pass
    assert len(recorder.batches) == 1


@pytest.fixture
def queues(aws):
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    return sqs, url, dlq


def _queue_poller(queues, recorder, **trigger):
    sqs, url, _ = queues
    return QueuePoller(function_name="Fn", trigger=QueueTrigger(queue_logical_id="Jobs", **trigger), queue_url=url,
                       queue_arn="arn:aws:sqs:us-east-1:123456789012:jobs", sqs=sqs, invoke=recorder,
                       region="us-east-1", wait_seconds=0)


def _bodies(batch):
    return sorted(r["body"] for r in batch)


def test_queue_deletes_successes_and_keeps_reported_failures(queues):
    sqs, url, _ = queues
    recorder = Recorder(fail_times={"b": 1})
    poller = _queue_poller(queues, recorder, report_batch_item_failures=True, batch_size=10)
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    while poller.poll_once():
        pass
    assert [_bodies(b) for b in recorder.batches] == [["a", "b"], ["b"]]
    assert recorder.batches[1][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert recorder.batches[0][0]["eventSource"] == "aws:sqs"


def test_queue_message_that_keeps_failing_ends_in_the_dead_letter_queue(queues):
    sqs, url, dlq = queues
    recorder = Recorder(fail_times={"poison": 99})
    poller = _queue_poller(queues, recorder, report_batch_item_failures=True)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    while poller.poll_once():
        pass
    assert len(recorder.batches) == 2  # maxReceiveCount
    moved = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert [m["Body"] for m in moved] == ["poison"]


def test_queue_filters_delete_messages_that_match_nothing(queues):
    sqs, url, _ = queues
    recorder = Recorder()
    poller = _queue_poller(queues, recorder, filters=({"body": {"kind": ["reply"]}},))
    sqs.send_message(QueueUrl=url, MessageBody='{"kind": "reply"}')
    sqs.send_message(QueueUrl=url, MessageBody='{"kind": "other"}')
    while poller.poll_once():
        pass
    assert [_bodies(b) for b in recorder.batches] == [['{"kind": "reply"}']]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_queue_function_error_deletes_nothing(queues):
    sqs, url, _ = queues
    recorder = Recorder(raise_times=1)
    poller = _queue_poller(queues, recorder)
    sqs.send_message(QueueUrl=url, MessageBody="a")
    while poller.poll_once():
        pass
    assert [_bodies(b) for b in recorder.batches] == [["a"], ["a"]]


class RaisesOn(Recorder):
    """A function that raises (a function error, not a partial failure) whenever the batch holds ``key``."""

    def __init__(self, key):
        super().__init__()
        self.key = key

    def __call__(self, event):
        self.batches.append(event["Records"])
        if self.key in _keys(event["Records"]):
            raise FunctionError("Fn", "RuntimeError", "poisoned")
        return {"batchItemFailures": []}


def test_bisect_on_function_error_isolates_the_poisoned_record(table):
    recorder = RaisesOn("c")
    poller = _stream_poller(table, recorder, bisect_on_error=True, maximum_retry_attempts=1)
    for key in ("a", "b", "c", "d"):
        _put(table, key)
    while poller.poll_once():
        pass
    batches = [_keys(b) for b in recorder.batches]
    assert batches[:3] == [["a", "b", "c", "d"], ["a", "b"], ["c", "d"]]
    assert ["d"] in batches  # d is delivered on its own once c is given up on
    assert all("c" not in b or b == ["c"] for b in batches[3:])


def test_a_stream_batch_that_keeps_failing_goes_to_the_on_failure_queue_naming_its_range(table):
    """As Lambda does with DestinationConfig.OnFailure: after MaximumRetryAttempts the failed part of the batch
    is skipped and one record naming its shard and sequence range goes to the queue; the records before it
    were checkpointed and are not part of it."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="stream-failures")["QueueUrl"]
    recorder = Recorder(fail_times={"b": 99})
    dynamodb, stream_arn = table
    poller = StreamPoller(function_name="Fn", stream_arn=stream_arn, streams=boto3.client("dynamodbstreams"),
                          trigger=StreamTrigger(table_logical_id="Chats", report_batch_item_failures=True,
                                                maximum_retry_attempts=2, on_failure_queue_url=url),
                          invoke=recorder, region="us-east-1", retry_delay=0, failures=sqs)
    for key in ("a", "b", "c"):
        _put(table, key)
    while poller.poll_once():
        pass
    assert [_keys(b) for b in recorder.batches] == [["a", "b", "c"], ["b", "c"], ["b", "c"]]
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    failure = json.loads(message["Body"])
    sequence = [r["dynamodb"]["SequenceNumber"] for r in recorder.batches[-1]]
    shard = boto3.client("dynamodbstreams").describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    assert failure["DDBStreamBatchInfo"] | {"approximateArrivalOfFirstRecord": None,
                                            "approximateArrivalOfLastRecord": None} == {
        "shardId": shard["ShardId"], "startSequenceNumber": sequence[0], "endSequenceNumber": sequence[-1],
        "batchSize": 2, "streamArn": stream_arn, "approximateArrivalOfFirstRecord": None,
        "approximateArrivalOfLastRecord": None}
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    _put(table, "d")  # the stream moved on past the skipped records
    while poller.poll_once():
        pass
    assert _keys(recorder.batches[-1]) == ["d"]


def test_without_an_on_failure_destination_a_batch_that_keeps_failing_is_skipped_with_a_log_line(table, caplog):
    recorder = Recorder(fail_times={"a": 99})
    poller = _stream_poller(table, recorder, report_batch_item_failures=True, maximum_retry_attempts=0)
    _put(table, "a")
    with caplog.at_level("ERROR", logger="chatbridge.local"):
        while poller.poll_once():
            pass
    assert len(recorder.batches) == 1 and "giving up on 1 stream records" in caplog.text
