"""AWS calls per message: the DynamoDB and SQS requests botocore sends, counted per handler invocation.

Steady state, as a warm Lambda sees it: the spec and the outgoing webhook rules are cached, the chat
exists. Requests the Lambda *service* makes (reading the stream, receiving and deleting SQS messages)
are not the functions' and are not counted; only what each handler sends is.

*Ingest*: new messages posted into an existing chat through the ingest handler. Baseline: the same
messages written by the exactly-once floor (``ingest_overhead.floor_writes``) in the same moto, counted
the same way. Targets: at most one write request per new message, no spec read.

*Reply*: an operator message through the admin handler, the evaluator on its stream record (the
template's FilterCriteria applied), the dispatcher on the SQS job, which posts to a real HTTP server on
loopback standing in for the third party. Baseline: the three requests no design can skip (store the
message, queue the job, record the delivery). Targets (issue 17): at most 5 requests and 4 writes per
delivered reply; and no read by the evaluator for a record no rule listens to (a visitor message while only
operator messages have an outgoing webhook).
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench import aws, workload
from bench.ingest_overhead import create_floor_chat, floor_writes
from bench.report import Row

# issue 17's targets for one delivered reply, counted over admin + evaluator + dispatcher
REPLY_REQUESTS_TARGET = 5
REPLY_WRITES_TARGET = 4


class _ThirdParty(BaseHTTPRequestHandler):
    """open-wa's sendText, as far as the dispatcher can tell: 200 with a JSON body."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append({"path": self.path, "json": json.loads(body or b"null")})
        # with the message's id at the provider, which a REST API with ``response_message_id`` keeps
        answer = json.dumps({"sent": True, "id": f"wamid.{len(type(self).received)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass


class _Pipeline:
    """The Lambda service's part: read the chat stream (filtered) and the dispatch queue, call handlers."""

    def __init__(self, template: Any, resources: dict[str, Any]) -> None:
        import boto3

        from chatbridge.local.filters import matches_any
        from chatbridge.local.moto_stack import StreamTail

        self._matches_any = matches_any
        self.filters = template.functions["EvaluatorFunction"].stream_triggers[0].filters
        self.stream_arn = resources["ChatTable"]["StreamArn"]
        self.queue_url = resources["DispatchQueue"]["QueueUrl"]
        self.queue_arn = resources["DispatchQueue"]["Arn"]
        self.sqs = boto3.client("sqs")
        self.stream = StreamTail(self.stream_arn)

    def stream_records(self) -> list[dict[str, Any]]:
        return [record for record in self.stream.read() if self._matches_any(self.filters, record)]

    def queued(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                            AttributeNames=["All"]).get("Messages", [])
        return [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                 "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody"),
                 "eventSource": "aws:sqs", "eventSourceARN": self.queue_arn, "awsRegion": "us-east-1"}
                for m in messages]

    def delete(self, records: list[dict[str, Any]], failed: set[str]) -> None:
        for record in records:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])


def _counted(counter: aws.RequestCounter, call: Any) -> tuple[Any, dict[str, int]]:
    counter.reset()
    result = call()
    return result, counter.snapshot()


def _sum(*counts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))


def _ingest_rows(counter: aws.RequestCounter, ingest: Any, stack: dict[str, Any], start: int) -> tuple[list[Row], int]:
    import boto3

    rows = []
    for count in (1, 100):
        event = aws.api_event(workload.IDENTIFIER, workload.payload(count, start=start))
        (status, body), counts = _counted(counter, lambda event=event: aws.invoke(ingest, event))
        assert status == 200 and body["messages"] == count, body
        spec_reads = aws.table_calls(counts, "GetItem", "ConfigTable")
        start += count
        client = boto3.resource("dynamodb").meta.client
        table = stack["resources"]["ChatTable"]["Ref"]
        create_floor_chat(client, table, 10_000 + count)
        _, floor = _counted(counter, lambda client=client, table=table, count=count, start=start: floor_writes(
            client, table, 10_000 + count, count, last=1, first_index=start))
        writes, requests = aws.writes(counts), sum(counts.values())
        rows.append(Row("aws_calls", f"ingest: writes per new message ({count} msg/request)", writes / count, "req",
                        baseline=aws.writes(floor) / count, baseline_label="exactly-once floor", target=1,
                        target_on="value",
                        note="aws_calls: requests botocore sent during the handler call (before-send hook), steady "
                             "state: chat exists, spec and rules in the warm cache",
                        extra={"requests": counts, "floor_requests": floor, "messages": count}))
        rows.append(Row("aws_calls", f"ingest: requests per new message ({count} msg/request)", requests / count,
                        "req", baseline=sum(floor.values()) / count, baseline_label="exactly-once floor",
                        target=1 if count == 1 else None, target_on="value", extra={"requests": counts}))
        rows.append(Row("aws_calls", f"ingest: spec reads, warm ({count} msg/request)", spec_reads, "req",
                        target=0, target_on="value"))
    return rows, start


NEW_CHATS = 10  # a whole block of chat ids (chat_cache.CHAT_ID_BLOCK): its one allocation is in the mean


def _ingest_edge_rows(counter: aws.RequestCounter, ingest: Any, chat_id: int, start: int) -> list[Row]:
    """What the warm function's memory (``repository.chat_cache``) does not cover: new chats, a chat it has
    not written (another instance's, or evicted), and a chat an operator's reply moved since it wrote it."""
    from chatbridge.repository import chat_cache, reply_storage

    new_chats: list[dict[str, int]] = []
    for index in range(NEW_CHATS):
        event = aws.api_event(workload.IDENTIFIER, workload.payload(1, start=start, chat=f"bench-new-{index}"))
        (status, body), counts = _counted(counter, lambda event=event: aws.invoke(ingest, event))
        assert status == 200 and body["messages"] == 1 and body["chats"] != [chat_id], body
        new_chats.append(counts)
        start += 1
    total = _sum(*new_chats)
    rows = [Row("aws_calls", f"ingest: requests per new chat (1 msg, warm, mean of {NEW_CHATS} chats)",
                sum(total.values()) / NEW_CHATS, "req", baseline=1, baseline_label="floor: one transaction",
                target=2, target_on="value",
                note="new chat: the lookup is read only when the function has no chat id at hand (its block of "
                     f"{chat_cache.CHAT_ID_BLOCK} ids is taken with one UpdateItem, counted in the mean)",
                extra={"requests": total})]

    def one_message() -> dict[str, int]:
        nonlocal start
        event = aws.api_event(workload.IDENTIFIER, workload.payload(1, start=start))
        (status, body), counts = _counted(counter, lambda: aws.invoke(ingest, event))
        assert status == 200 and body["messages"] == 1 and body["chats"] == [chat_id], body
        start += 1
        return counts

    chat_cache.chat_states.clear()  # as a second instance sees the chat
    counts = one_message()
    rows.append(Row("aws_calls", "ingest: requests, existing chat this function has not written (1 msg)",
                    sum(counts.values()), "req", baseline=1, baseline_label="floor: one transaction",
                    extra={"requests": counts}))
    reply_storage.add_operator_message(chat_id, "an operator's reply", 3)
    counts = one_message()
    rows.append(Row("aws_calls", "ingest: requests after an operator's reply moved the chat (1 msg)",
                    sum(counts.values()), "req", baseline=1, baseline_label="floor: one transaction",
                    note="a stale memory cancels the transaction, which returns the chat as it is: one retry",
                    extra={"requests": counts}))
    return rows


def _reply(counter: aws.RequestCounter, handlers: dict[str, Any], pipeline: _Pipeline,
           chat_id: int) -> dict[str, dict[str, int]]:
    """One operator reply, end to end; returns the requests each function sent."""
    admin_event = aws.api_event("unused", {"msg": "Your order is on its way", "user_id": 3})
    admin_event.update(resource="/admin/chats/{chat_id}/messages", path=f"/admin/chats/{chat_id}/messages",
                       pathParameters={"chat_id": str(chat_id)})
    admin_event["requestContext"]["resourcePath"] = "/admin/chats/{chat_id}/messages"
    (status, body), admin = _counted(counter, lambda: aws.invoke(handlers["admin"], admin_event))
    assert status == 201, body
    records = pipeline.stream_records()
    result, evaluator = _counted(counter, lambda: _invoke_batch(handlers["evaluator"], records))
    assert not result.get("batchItemFailures"), result
    jobs = pipeline.queued()
    assert len(jobs) == 1, f"expected one dispatch job, got {len(jobs)}"
    result, dispatcher = _counted(counter, lambda: _invoke_batch(handlers["dispatcher"], jobs))
    assert not result.get("batchItemFailures"), result
    pipeline.delete(jobs, set())
    return {"admin": admin, "evaluator": evaluator, "dispatcher": dispatcher}


def _unlistened_row(counter: aws.RequestCounter, handlers: dict[str, Any], pipeline: _Pipeline) -> Row:
    """A visitor message while no rule listens to ``chat.addmsguser`` (the bench's only rule answers operator
    messages): the evaluator, its rules cached, should know that without reading the chat."""
    status, body = aws.invoke(handlers["ingest"], aws.api_event(workload.IDENTIFIER, workload.payload(1, start=900)))
    assert status == 200 and body["messages"] == 1, body
    records = pipeline.stream_records()
    assert records, "the visitor message left no stream record for the evaluator"
    result, counts = _counted(counter, lambda: _invoke_batch(handlers["evaluator"], records))
    assert not result.get("batchItemFailures"), result
    reads = sum(n for key, n in counts.items() if aws.operation(key) in ("GetItem", "Query", "BatchGetItem"))
    return Row("aws_calls", "reply: evaluator reads, record no rule listens to", reads, "req", target=0,
               target_on="value", note="unlistened record: a visitor message (chat.addmsguser) while only operator "
                                       "messages have a rule; the evaluator's rules are cached",
               extra={"requests": counts, "records": len(records)})


def _invoke_batch(handler: Any, records: list[dict[str, Any]]) -> Any:
    with aws.quiet_stdout():
        return handler.lambda_handler({"Records": records}, aws.lambda_context())


def _third_party() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ThirdParty)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(*, quick: bool) -> list[Row]:
    from chatbridge.local.seed import seed_document
    from chatbridge.reply.rest_api import RestApi
    from chatbridge.reply.webhooks import OutgoingWebhook
    from chatbridge.repository import outgoing

    aws.local_environment()
    aws.one_snapshot_per_transaction()
    server = _third_party()
    try:
        with aws.moto_stack() as stack:
            counter = aws.RequestCounter({v["Ref"]: k for k, v in stack["resources"].items() if "Ref" in v})
            counter.install()
            aws.forget_caches()
            os.environ.update({"CHATBRIDGE_OUTBOUND_ALLOW": "127.0.0.1", "MAX_ATTEMPTS": "6"})
            spec = workload.store_spec()
            document = seed_document(f"http://127.0.0.1:{server.server_address[1]}")
            outgoing.put_rest_api(RestApi.model_validate(document["rest_apis"][0]))
            webhook = dict(document["webhooks"][0], conditions=[f"{{args.chat.iwh_id}} = {spec.id}"])
            outgoing.put_webhook(OutgoingWebhook.model_validate(webhook))
            handlers = {name: aws.load_handler(name) for name in ("ingest", "admin", "evaluator", "dispatcher")}
            pipeline = _Pipeline(stack["template"], stack["resources"])
            status, body = aws.invoke(handlers["ingest"], aws.api_event(workload.IDENTIFIER, workload.payload(1)))
            assert status == 200, body
            chat_id = body["chats"][0]
            _invoke_batch(handlers["evaluator"], pipeline.stream_records())
            rows, start = _ingest_rows(counter, handlers["ingest"], stack, start=1)
            _invoke_batch(handlers["evaluator"], pipeline.stream_records())
            _reply(counter, handlers, pipeline, chat_id)  # warm: rules, spec, REST API, clients
            received_before = len(_ThirdParty.received)
            stages = _reply(counter, handlers, pipeline, chat_id)
            assert len(_ThirdParty.received) == received_before + 1, "the reply did not reach the third party"
            total = _sum(*stages.values())
            rows.append(Row("aws_calls", "reply: requests per delivered reply", sum(total.values()), "req",
                            baseline=3, baseline_label="floor: store msg, queue job, record delivery",
                            target=REPLY_REQUESTS_TARGET, target_on="value",
                            note="reply floor: store the message, queue the job, record the delivery (3 requests); "
                                 "counted over admin + evaluator + dispatcher, warm",
                            extra={"by_function": stages, "total": total}))
            rows.append(Row("aws_calls", "reply: writes per delivered reply", aws.writes(total), "req",
                            target=REPLY_WRITES_TARGET, target_on="value",
                            extra={"by_function": {k: aws.writes(v) for k, v in stages.items()}}))
            rows.append(_unlistened_row(counter, handlers, pipeline))
            rest_api = dict(document["rest_apis"][0], response_message_id="id")  # as every preset has it
            outgoing.put_rest_api(RestApi.model_validate(rest_api))
            _reply(counter, handlers, pipeline, chat_id)  # warm: the changed REST API cached again
            stages = _reply(counter, handlers, pipeline, chat_id)
            total = _sum(*stages.values())
            rows.append(Row("aws_calls", "reply with the provider's message id: requests per delivered reply",
                            sum(total.values()), "req", baseline=3, baseline_label="floor (as above)",
                            note="provider's message id: the REST API's response_message_id (every preset sets it) "
                                 "keeps the reply's id at the provider, and its dedup item, so receipts find it",
                            extra={"by_function": stages, "total": total, "writes": aws.writes(total)}))
            config_reads = sum(n for key, n in total.items() if key.endswith(" ConfigTable")
                               and aws.operation(key) in ("GetItem", "Query", "BatchGetItem"))
            rows.append(Row("aws_calls", "reply: config reads (spec, rules, REST API), warm", config_reads, "req",
                            target=0, target_on="value",
                            note="config reads: the spec, outgoing webhook rules and REST API a warm function needs "
                                 "should come from its cache"))
            rows.extend(_ingest_edge_rows(counter, handlers["ingest"], chat_id, start))  # last: its reply's
            # stream record is left unread, as the reply rows above must see only their own
    finally:
        server.shutdown()
        server.server_close()
    return rows

