"""``chatbridge deliveries redrive --stream`` through the real path, on moto with the template's resources.

A visitor's webhook is ingested over HTTP, an operator answers through the admin API, and the evaluator
fails on the reply's stream record (SQS refuses its job) until Lambda gives up: Lambda then sends the
evaluator's on-failure queue (``StreamFailureQueue``) a record naming the shard and sequence range, built
here by the local stack's own emulation of it. The CLI's redrive goes through the admin API, which re-reads
those stream records and re-evaluates them with the evaluator's code; the dispatcher sends the reply to a
loopback server standing in for the provider. Counted: what that server received.
"""

from __future__ import annotations

import json
import os
import urllib.request

import boto3
import pytest

from chatbridge.cli import main as chatbridge
from chatbridge.cli.client import ChatbridgeClient
from chatbridge.local.pollers import stream_failure_record
from chatbridge.local.seed import IDENTIFIER, SAMPLE_MESSAGE, seed_document
from chatbridge.repository import queue
from support.faults import Faults
from support.pipeline import Pipeline
from support.provider_server import ProviderServer

REPLY = "your order shipped"


@pytest.fixture
def provider():
    server = ProviderServer()
    yield server
    server.stop()


@pytest.fixture
def stack(template_api, provider, monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")  # the provider stand-in is on loopback
    client = ChatbridgeClient(template_api)
    client.apply(seed_document(provider.url))
    pipeline = Pipeline(os.environ["CHAT_TABLE"], os.environ["DISPATCH_QUEUE_URL"])
    request = urllib.request.Request(f"{template_api}/webhooks/incoming/{IDENTIFIER}", method="POST",
                                     data=json.dumps(SAMPLE_MESSAGE).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        [chat_id] = json.loads(response.read())["chats"]
    pipeline.pump()  # the visitor's message fires no rule of the seed
    return {"client": client, "pipeline": pipeline, "chat_id": chat_id, "url": template_api}


def fail_the_reply_until_lambda_gives_up(stack) -> dict:
    """The operator's reply; every evaluator attempt on its record fails (SQS refuses the job). Returns the
    on-failure record Lambda would send after its retries, for the records from the failed one on."""
    stack["client"].reply(stack["chat_id"], REPLY)
    pipeline = stack["pipeline"]
    records = pipeline.stream_records()
    faults = Faults(queue._sqs())
    faults.fail("SendMessageBatch", "ServiceUnavailable", times=3, when=lambda body: REPLY in json.dumps(body))
    try:
        for _ in range(3):  # the first attempt and two retries (the template retries more: the count does not matter)
            result = pipeline.evaluate(records)
            [failure] = result["batchItemFailures"]
            records = records[[r["dynamodb"]["SequenceNumber"] for r in records].index(failure["itemIdentifier"]):]
    finally:
        faults.detach()
    shard = boto3.client("dynamodbstreams").describe_stream(StreamArn=pipeline.stream_arn)[
        "StreamDescription"]["Shards"][0]["ShardId"]
    return stream_failure_record(stream_arn=pipeline.stream_arn, shard_id=shard, records=records,
                                 function_name="EvaluatorFunction", region="us-east-1", attempts=3)


def put_on_failure_queue(failure: dict) -> None:
    boto3.client("sqs").send_message(QueueUrl=os.environ["STREAM_FAILURE_QUEUE_URL"], MessageBody=json.dumps(failure))


def redrive(stack, capsys) -> tuple[int, dict]:
    capsys.readouterr()
    status = chatbridge(["deliveries", "redrive", "--stream", "--json", "--endpoint", stack["url"]])
    return status, json.loads(capsys.readouterr().out)


def sent_texts(provider) -> list[str]:
    return [request.json()["body"] for request in provider.received]


def test_a_reply_the_evaluator_gave_up_on_is_sent_once_after_redrive_and_a_second_redrive_sends_nothing(
        stack, provider, capsys):
    put_on_failure_queue(fail_the_reply_until_lambda_gives_up(stack))
    stack["pipeline"].pump()
    assert provider.received == []  # nothing was queued: without the redrive this reply is lost

    status, answer = redrive(stack, capsys)
    assert status == 0, answer
    assert (answer["batches"], answer["records"], answer["jobs"]) == (1, 1, 1)
    assert answer["expired"] == answer["failed"] == answer["unreadable"] == [] and not answer["remaining"]
    stack["pipeline"].pump()
    assert sent_texts(provider) == [REPLY]
    [message] = [m for m in stack["client"].list_messages(stack["chat_id"])["messages"] if m["user_id"] > 0]
    assert message["delivery"] == "sent"

    status, answer = redrive(stack, capsys)
    assert (status, answer["batches"], answer["records"], answer["jobs"]) == (0, 0, 0, 0)
    stack["pipeline"].pump()
    assert sent_texts(provider) == [REPLY]


def test_the_same_failed_range_redriven_twice_queues_the_same_job_and_the_reply_is_still_sent_once(
        stack, provider, capsys):
    """Job ids stay the same: a failure record that names records already redriven (Lambda reports a range,
    which may also hold records that went through) re-queues the same job, and the dispatcher skips it."""
    failure = fail_the_reply_until_lambda_gives_up(stack)
    put_on_failure_queue(failure)
    assert redrive(stack, capsys)[1]["jobs"] == 1
    stack["pipeline"].pump()
    put_on_failure_queue(failure)
    status, answer = redrive(stack, capsys)
    assert (status, answer["batches"], answer["jobs"]) == (0, 1, 1)
    stack["pipeline"].pump()
    assert sent_texts(provider) == [REPLY]
    [delivery] = stack["client"].list_deliveries(chat_id=stack["chat_id"])["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("sent", 1)


def test_a_batch_that_fails_again_stays_on_the_queue_and_the_command_says_so(stack, provider, capsys):
    put_on_failure_queue(fail_the_reply_until_lambda_gives_up(stack))
    faults = Faults(queue._sqs())
    faults.fail("SendMessageBatch", "ServiceUnavailable", times=1, when=lambda body: REPLY in json.dumps(body))
    try:
        status, answer = redrive(stack, capsys)
    finally:
        faults.detach()
    assert status == 1 and answer["batches"] == 0
    [failed] = answer["failed"]
    assert "ServiceUnavailable" in failed["reason"] and failed["batch_size"] == 1
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=os.environ["STREAM_FAILURE_QUEUE_URL"],
                                                          AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"  # kept for the next redrive
    assert provider.received == []


def test_a_message_that_is_no_failure_record_is_reported_and_left_alone(stack, capsys):
    boto3.client("sqs").send_message(QueueUrl=os.environ["STREAM_FAILURE_QUEUE_URL"], MessageBody="not json")
    capsys.readouterr()
    status = chatbridge(["deliveries", "redrive", "--stream", "--endpoint", stack["url"]])
    output = capsys.readouterr()
    assert status == 1
    assert "redrove 0 failed stream batches" in output.out
    assert "not a stream failure record (left on the queue)" in output.err


def test_a_batch_the_stream_no_longer_holds_is_listed_as_lost_and_leaves_the_queue(stack, provider, capsys):
    """Past the stream's 24 hours DynamoDB answers TrimmedDataAccessException: no redrive can read the records
    again, so the command says which range was lost (exit 1) instead of retrying it forever."""
    from chatbridge.repository import stream_failures

    put_on_failure_queue(fail_the_reply_until_lambda_gives_up(stack))
    faults = Faults(stream_failures._streams())
    faults.fail("GetShardIterator", "TrimmedDataAccessException", times=1)
    try:
        status, answer = redrive(stack, capsys)
    finally:
        faults.detach()
    assert status == 1 and answer["batches"] == 0
    [lost] = answer["expired"]
    assert "no longer holds" in lost["reason"] and "24 hours" in lost["reason"] and lost["batch_size"] == 1
    assert redrive(stack, capsys)[1]["expired"] == []  # reported once: the failure record is gone
    stack["pipeline"].pump()
    assert provider.received == []


def test_a_range_of_several_records_is_read_whole_and_only_records_that_fire_something_queue_jobs(
        stack, provider, capsys):
    """Lambda's range covers every record between its first and last sequence number, filtered or not; the
    evaluator's own event_of decides again (the visitor's message and system messages fire nothing here)."""
    stack["client"].reply(stack["chat_id"], "one")
    stack["client"].reply(stack["chat_id"], "two")
    pipeline = stack["pipeline"]
    records = pipeline.stream_records()  # chat updates, two operator messages: nothing evaluated yet
    shard = boto3.client("dynamodbstreams").describe_stream(StreamArn=pipeline.stream_arn)[
        "StreamDescription"]["Shards"][0]["ShardId"]
    put_on_failure_queue(stream_failure_record(stream_arn=pipeline.stream_arn, shard_id=shard, records=records,
                                               function_name="EvaluatorFunction", region="us-east-1", attempts=11))
    status, answer = redrive(stack, capsys)
    assert (status, answer["batches"], answer["records"], answer["jobs"]) == (0, 1, len(records), 2)
    pipeline.pump()
    assert sorted(sent_texts(provider)) == ["one", "two"]


def test_a_queue_message_that_is_no_on_failure_record_is_refused_with_its_reason():
    from chatbridge.repository.stream_failures import StreamFailureError, parse

    with pytest.raises(StreamFailureError, match="m-1 is not a DynamoDB stream on-failure record"):
        parse('{"requestContext": {}}', message_id="m-1")
    batch = parse(json.dumps({"requestContext": {"condition": "RecordAgeExceeded"}, "DDBStreamBatchInfo": {
        "shardId": "s", "startSequenceNumber": "0100", "endSequenceNumber": "200", "batchSize": 2,
        "streamArn": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x"}}))
    assert (batch.start_sequence_number, batch.condition) == ("100", "RecordAgeExceeded")


def test_a_redrive_that_runs_out_of_time_says_more_remain_and_the_command_asks_again(stack, provider, capsys,
                                                                                     monkeypatch):
    """Each admin request works about 20 s (inside API Gateway's 29 s), taking one failure record at a time so
    none is held unprocessed when the time is up; the CLI keeps asking while the answer says more remain."""
    from chatbridge.reply import stream_redrive

    failure = fail_the_reply_until_lambda_gives_up(stack)
    put_on_failure_queue(failure)
    put_on_failure_queue(failure)  # the same range twice: the second finds the job queued, and queues it again

    class Clock:  # every look at the clock is 15 s later: one batch per request fits in the 20 s budget
        def __init__(self):
            self.now = 0.0

        def monotonic(self):
            self.now += 15
            return self.now

    monkeypatch.setattr(stream_redrive, "time", Clock())
    status, answer = redrive(stack, capsys)
    assert (status, answer["batches"], answer["jobs"], answer["remaining"]) == (0, 2, 2, False)
    assert answer["rounds"] == 3  # one batch, one batch, then nothing left
    stack["pipeline"].pump()
    assert sent_texts(provider) == [REPLY]
