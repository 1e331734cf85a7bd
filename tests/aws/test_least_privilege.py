"""Each function does its whole job with only the permissions template.yaml gives its role.

The narrowed policies (issue 16: admin never deletes, scans or batch-writes chats; evaluator and dispatcher
scan nothing; no sqs:GetQueueUrl...) are only right if the code never needs what was removed. Here every
handler runs under an IAM user that holds exactly its role's actions, as the SAM translator writes them, with
moto enforcing IAM: a call the role does not allow fails the path, as AccessDenied would in production.

moto checks actions, not resources (it authorises every call against ``*``), so this proves the action lists;
the resource ARNs are asserted in tests/template. Two translations of AWS's own rules: DynamoDB authorises a
transaction item by item (``TransactWriteItems`` needs PutItem/UpdateItem/ConditionCheckItem, which moto
cannot see), and SQS authorises its batch calls as the single ones (``SendMessageBatch`` as SendMessage).
"""

from __future__ import annotations

import copy
import json
import os
import re
import urllib.request
from contextlib import contextmanager

import boto3
import pytest
from moto import settings as moto_settings
from samtranslator.translator.transform import transform

from chatbridge.cli.client import ChatbridgeClient
from chatbridge.local.apigateway import Router, build_event, parse_response
from chatbridge.local.cfn import load_yaml
from chatbridge.local.pollers import stream_failure_record
from chatbridge.local.seed import IDENTIFIER, SAMPLE_MESSAGE, seed_document
from chatbridge.repository.caches import forget_all
from support.lambda_context import Context
from support.paths import TEMPLATE
from support.pipeline import Pipeline, load_handler
from support.provider_server import ProviderServer

FUNCTIONS = ("IngestFunction", "AdminFunction", "EvaluatorFunction", "DispatcherFunction", "MediaFunction")
# AWS authorises these calls through other actions (see the module docstring): moto's names for them
SAME_AS = {"dynamodb:PutItem": ["dynamodb:TransactWriteItems"], "dynamodb:UpdateItem": ["dynamodb:TransactWriteItems"],
           "dynamodb:ConditionCheckItem": ["dynamodb:TransactWriteItems"], "dynamodb:GetItem": ["dynamodb:TransactGetItems"],
           "sqs:SendMessage": ["sqs:SendMessageBatch"], "sqs:DeleteMessage": ["sqs:DeleteMessageBatch"],
           "sqs:ChangeMessageVisibility": ["sqs:ChangeMessageVisibilityBatch"]}


# The managed policies SAM attaches, as AWS defines them (logs and X-Ray calls are Lambda's, not the code's)
MANAGED = {
    "AWSLambdaBasicExecutionRole": set(),
    "AWSXrayWriteOnlyAccess": set(),
    "AWSLambdaDynamoDBExecutionRole": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                       "dynamodb:ListStreams"},
    "AWSLambdaSQSQueueExecutionRole": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
}


def role_actions() -> dict[str, set[str]]:
    """Every action each function's role allows, from the translator's output (policy templates expanded)."""
    packaged = copy.deepcopy(load_yaml(TEMPLATE))
    for resource in packaged["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://artifacts/{props[key].strip('/')}.zip"
    resources = transform(packaged, {}, type("Loader", (), {"load": lambda self: {}})())["Resources"]
    found = {}
    for function in FUNCTIONS:
        role = resources[f"{function}Role"]["Properties"]
        actions = set()
        for arn in role.get("ManagedPolicyArns", []):
            name = json.dumps(arn).rsplit("/", 1)[-1].strip('"')
            assert name in MANAGED, f"{function}: managed policy {name} is not known to this test"
            actions |= MANAGED[name]
        for policy in role.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Allow":
                    listed = statement["Action"]
                    actions |= {listed} if isinstance(listed, str) else set(listed)
        found[function] = actions | {alias for action in actions for alias in SAME_AS.get(action, [])}
    return found


@pytest.fixture(scope="module")
def actions():
    return role_actions()


def _user(iam, name: str, actions: set[str]) -> dict[str, str]:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="role", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": sorted(actions), "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


class Roles:
    """Switches the process's AWS credentials between the functions' users and the test's own (allowed all)."""

    def __init__(self, keys: dict[str, dict[str, str]], monkeypatch) -> None:
        self.keys, self.monkeypatch, self.current = keys, monkeypatch, None

    def use(self, who: str) -> None:
        for name, value in self.keys[who].items():
            self.monkeypatch.setenv(name, value)
        for token in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):  # tests/conftest.py sets both
            self.monkeypatch.delenv(token, raising=False)
        boto3.DEFAULT_SESSION = None  # the default session keeps the credentials it first found
        forget_all()  # and every repository client keeps its session's
        self.current = who

    @contextmanager
    def acting_as(self, function: str):
        self.use(function)
        try:
            yield
        finally:
            self.use("tester")


@pytest.fixture
def roles(aws_stack, actions, monkeypatch):
    iam = boto3.client("iam")
    keys = {function: _user(iam, function, actions[function]) for function in FUNCTIONS}
    keys["tester"] = _user(iam, "tester", {"*"})
    boto3.client("s3").create_bucket(Bucket=os.environ["MEDIA_BUCKET"])
    switch = Roles(keys, monkeypatch)
    switch.use("tester")
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # from here on, every call is checked
    yield switch
    boto3.DEFAULT_SESSION = None
    forget_all()


@pytest.fixture
def api(roles, aws_stack, httpserver):
    """The template's API on loopback, each route's handler running as its own function's role."""
    from werkzeug import Response

    router = Router(aws_stack["template"].routes)
    calls: list[str] = []

    def handle(request):
        match = router.match(request.method, request.path)
        event = build_event(method=request.method, raw_path=request.full_path.rstrip("?"),
                            headers=list(request.headers.items()), body=request.get_data(), match=match,
                            stage="Prod", source_ip="127.0.0.1")
        calls.append(match.function.logical_id)
        with roles.acting_as(match.function.logical_id):
            answer = parse_response(load_handler(match.function.code_dir.name).lambda_handler(event, Context()))
        return Response(answer.body, status=answer.status, headers=answer.headers)

    httpserver.expect_request(re.compile(".*")).respond_with_handler(handle)
    return httpserver.url_for("").rstrip("/"), calls


class RolePipeline(Pipeline):
    """The stream and queue driven as Lambda does (with the test's credentials), each handler with its role's."""

    roles: Roles

    def evaluate(self, records):
        with self.roles.acting_as("EvaluatorFunction"):
            return super().evaluate(records)

    def dispatch(self, records, *, fast_forward=True):
        with self.roles.acting_as("DispatcherFunction"):
            result = load_handler("dispatcher").lambda_handler({"Records": records}, Context())
        self.dispatcher_results.append(result)
        failed = {failure["itemIdentifier"] for failure in result.get("batchItemFailures", [])}
        for record in records:
            if record["messageId"] in failed:  # the retry's backoff, fast-forwarded
                self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"],
                                                   VisibilityTimeout=0)
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])
        return result


@pytest.fixture
def provider():
    server = ProviderServer()
    yield server
    server.stop()


def test_every_function_does_its_job_with_only_its_roles_actions(api, roles, provider, monkeypatch):
    url, calls = api
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")
    pipeline = RolePipeline(os.environ["CHAT_TABLE"], os.environ["DISPATCH_QUEUE_URL"])
    pipeline.roles = roles
    client = ChatbridgeClient(url)

    # admin: a whole setup (REST API, spec, outgoing webhook), secrets, listings
    client.apply(seed_document(provider.url))
    assert client.put_secret("/chatbridge/least-privilege/token", "s3cr3t")["name"]
    assert [s["name"] for s in client.list_secrets()["secrets"]] == ["/chatbridge/least-privilege/token"]
    client.delete_secret("/chatbridge/least-privilege/token")
    assert client.list_incoming_webhooks()["incoming_webhooks"]

    # ingest: a provider's webhook creates a chat
    request = urllib.request.Request(f"{url}/webhooks/incoming/{IDENTIFIER}", method="POST",
                                     data=json.dumps(SAMPLE_MESSAGE).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        [chat_id] = json.loads(response.read())["chats"]

    # admin answers; evaluator queues the reply; dispatcher sends it to the provider (after one 503: a retry)
    provider.answer = (503, {"error": "busy"})
    client.reply(chat_id, "first reply")
    reply_records = pipeline.stream_records()
    pipeline.evaluate(reply_records)
    pipeline.dispatch(pipeline.receive())
    provider.answer = (200, {"ok": True})
    pipeline.pump()
    assert [r.json()["body"] for r in provider.received] == ["first reply", "first reply"]
    assert [c["id"] for c in client.list_chats(incoming=IDENTIFIER)["chats"]] == [chat_id]
    assert client.list_deliveries(chat_id=chat_id)["deliveries"][0]["status"] == "sent"
    assert client.list_deliveries()["deliveries"]

    # a reply the third party refuses: dead-lettered, then the operator's retry and a redrive
    provider.answer = (400, {"error": "no"})
    client.reply(chat_id, "refused reply")
    pipeline.pump()
    [refused] = [m for m in client.list_messages(chat_id)["messages"] if m["msg"] == "refused reply"]
    assert refused["delivery"] == "failed"
    provider.answer = (200, {"ok": True})
    client.request("POST", f"/admin/chats/{chat_id}/messages/{refused['id']}/retry")
    pipeline.pump()
    assert client.redrive_deliveries()["redriven"] == 1  # the dead-lettered copy of the job
    pipeline.pump()
    # the stream redrive: the admin function reads the failure queue and the stream, and queues the job again
    shard = boto3.client("dynamodbstreams").describe_stream(StreamArn=pipeline.stream_arn)[
        "StreamDescription"]["Shards"][0]["ShardId"]
    boto3.client("sqs").send_message(QueueUrl=os.environ["STREAM_FAILURE_QUEUE_URL"], MessageBody=json.dumps(
        stream_failure_record(stream_arn=pipeline.stream_arn, shard_id=shard, records=reply_records,
                              function_name="EvaluatorFunction", region="us-east-1", attempts=11)))
    assert client.redrive_stream_failures()["jobs"] == 1
    pipeline.pump()  # the job was sent before: the dispatcher skips it
    client.request("POST", f"/admin/chats/{chat_id}/close")
    pipeline.pump()

    # the media link function reads the bucket
    boto3.client("s3").put_object(Bucket=os.environ["MEDIA_BUCKET"], Key="media/1/abc.png", Body=b"png")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{url}/media/1/{'0' * 64}.png", timeout=10)  # noqa: S310 (loopback)
    assert missing.value.code == 404

    assert set(calls) >= {"IngestFunction", "AdminFunction", "MediaFunction"}
    bodies = [r.json()["body"] for r in provider.received]
    assert bodies.count("first reply") == 2 and bodies.count("refused reply") == 2  # each refused once, then sent once


def test_a_call_outside_a_roles_actions_is_refused_so_the_test_above_can_fail(roles):
    """The enforcement is real: the evaluator's role may not scan the chat table."""
    from botocore.exceptions import ClientError

    with roles.acting_as("EvaluatorFunction"), pytest.raises(ClientError, match="AccessDenied|not authorized"):
        boto3.client("dynamodb").scan(TableName=os.environ["CHAT_TABLE"])
