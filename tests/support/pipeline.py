"""Drive the reply pipeline on moto by hand, as Lambda would: stream -> evaluator -> SQS -> dispatcher.

moto cannot run Lambda code (and its event-source mappings swallow records), so a test reads the chat
table's stream and the dispatch queue itself and calls the handlers. ``pump`` repeats until nothing moves;
``fast_forward`` makes delayed retries visible at once, standing in for the backoff wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

from chatbridge.local.moto_stack import StreamTail, load_function
from support.lambda_context import Context
from support.paths import ROOT


def load_handler(function: str) -> Any:
    """The real ``functions/<function>/app.py`` module."""
    return load_function(ROOT, function)



@dataclass
class Pipeline:
    chat_table: str
    queue_url: str
    region: str = "us-east-1"
    evaluator_results: list[dict[str, Any]] = field(default_factory=list)
    dispatcher_results: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name=self.region)
        self.stream_arn = boto3.client("dynamodb", region_name=self.region).describe_table(
            TableName=self.chat_table)["Table"]["LatestStreamArn"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.stream = StreamTail(self.stream_arn, self.region)

    # -- stream side ----------------------------------------------------------------------------------
    def stream_records(self) -> list[dict[str, Any]]:
        """New stream records since the last read, shaped as Lambda delivers them."""
        return self.stream.read()

    def evaluate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        result = load_handler("evaluator").lambda_handler({"Records": records}, Context())
        self.evaluator_results.append(result)
        return result

    # -- queue side -----------------------------------------------------------------------------------
    def receive(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                            AttributeNames=["All"]).get("Messages", [])
        return [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                 "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody"),
                 "eventSource": "aws:sqs", "eventSourceARN": self.queue_arn, "awsRegion": self.region}
                for m in messages]

    def dispatch(self, records: list[dict[str, Any]], *, fast_forward: bool = True) -> dict[str, Any]:
        """Call the dispatcher; delete what succeeded (as Lambda does), make failures visible again if asked."""
        result = load_handler("dispatcher").lambda_handler({"Records": records}, Context())
        self.dispatcher_results.append(result)
        failed = {failure["itemIdentifier"] for failure in result.get("batchItemFailures", [])}
        for record in records:
            if record["messageId"] in failed:
                if fast_forward:
                    self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"],
                                                       VisibilityTimeout=0)
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])
        return result

    def pump(self, *, rounds: int = 20, fast_forward: bool = True) -> None:
        """Run evaluator and dispatcher until neither has anything left to do."""
        for _ in range(rounds):
            moved = False
            records = self.stream_records()
            if records:
                moved = True
                self.evaluate(records)
            messages = self.receive()
            if messages:
                moved = True
                self.dispatch(messages, fast_forward=fast_forward)
            if not moved:
                return
        raise AssertionError(f"the pipeline still moved after {rounds} rounds")
