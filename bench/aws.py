"""moto for the benchmarks: the template's tables and queues, the handlers, and a count of AWS requests.

Everything runs in-process under ``mock_aws``, as the tests do (tests/support/aws.py): tables and queues
come from template.yaml through the local stack's own creator, so the benchmark and the template cannot
drift apart. The handlers are the real ``functions/<name>/app.py`` modules.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"

_LOCAL_ENVIRONMENT = {
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def local_environment() -> None:
    """No AWS account is ever reachable: fake credentials, moto only."""
    os.environ.update(_LOCAL_ENVIRONMENT)


def forget_caches() -> None:
    """Every cached client and cache in the layer, so a fresh moto starts from nothing."""
    from chatbridge.repository.caches import forget_all

    forget_all()


@contextlib.contextmanager
def moto_stack(function: str = "IngestFunction") -> Iterator[dict[str, Any]]:
    """A fresh moto with the template's resources; ``function``'s environment set (as Lambda would): the same
    machinery as the tests' ``aws_stack`` (``chatbridge.local.moto_stack``)."""
    from moto import mock_aws

    from chatbridge.local.moto_stack import create_from_template

    local_environment()
    saved = dict(os.environ)
    with mock_aws():
        try:
            yield create_from_template(TEMPLATE, function=function, setenv=os.environ.__setitem__,
                                       unsetenv=lambda name: os.environ.pop(name, None))
        finally:
            forget_caches()
            os.environ.clear()
            os.environ.update(saved)


def one_snapshot_per_transaction() -> None:
    """moto deep-copies a whole table once per *item* of a transaction (its rollback copy): 99 copies of the
    chat table and its stream for one 49-message write. DynamoDB has no such cost. Like the tests and the
    local stack, take one copy per request. Both the handler and the plain-boto3 baseline write through
    transactions, so this changes moto's cost for both sides, not their ratio's meaning."""
    from chatbridge.local import moto_dynamodb

    moto_dynamodb.install()


class RequestCounter:
    """Counts the HTTP requests botocore sends (retries included) as ``service.Operation`` keys; DynamoDB
    keys also name the table's logical id (``dynamodb.GetItem ConfigTable``).

    Hooked first on ``before-send`` of the default session, so it sees each request before moto answers
    it. Clients made before ``install`` are not counted: call ``forget_caches`` after installing.
    """

    def __init__(self, table_names: dict[str, str] | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self.table_names = table_names or {}  # physical name -> logical id

    def install(self) -> None:
        import boto3

        boto3.setup_default_session()
        boto3.DEFAULT_SESSION._session.get_component("event_emitter").register_first(  # type: ignore[union-attr]
            "before-send", self._count)

    def _count(self, event_name: str, request: Any = None, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        key = f"{service}.{operation}"
        if service == "dynamodb" and request is not None:
            table = _table_of(request.body)
            key += f" {self.table_names.get(table, table)}"
        self.counts[key] += 1

    def reset(self) -> None:
        self.counts.clear()

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def _table_of(body: Any) -> str:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return ""
    if "TableName" in data:
        return str(data["TableName"])
    for item in data.get("TransactItems", []):
        for operation in item.values():
            return str(operation.get("TableName", ""))
    return ",".join(data.get("RequestItems", {}))


WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def operation(key: str) -> str:
    return key.split(".", 1)[1].split(" ", 1)[0]


def writes(counts: dict[str, int]) -> int:
    return sum(n for key, n in counts.items() if key.startswith("dynamodb.") and operation(key) in WRITE_OPERATIONS)


def table_calls(counts: dict[str, int], op: str, table: str) -> int:
    return counts.get(f"dynamodb.{op} {table}", 0)


def load_handler(function: str) -> Any:
    """``functions/<function>/app.py`` (``chatbridge.local.moto_stack.load_function``), its logs kept off the
    screen. The log records are still formatted and written (that cost is part of a request), to /dev/null."""
    from chatbridge.local.moto_stack import load_function

    module = load_function(ROOT, function)
    if not getattr(module, "_bench_quiet", False):
        sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        for handler in logging.getLogger(module.logger.service).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sink)
        module._bench_quiet = True
    return module


def lambda_context() -> Any:
    """The local stack's Lambda context, as the handlers get it there."""
    from chatbridge.local.worker import LambdaContext

    return LambdaContext(function_name="bench", memory_size=512, timeout=30, region="us-east-1",
                         request_id="bench-request")


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Powertools prints metrics (EMF) to stdout at the end of each request; send them to /dev/null."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def api_event(identifier: str, body: Any) -> dict[str, Any]:
    """An API Gateway REST (payload 1.0) proxy event for ``POST /webhooks/incoming/{identifier}``."""
    path = f"/webhooks/incoming/{identifier}"
    headers = {"Content-Type": "application/json"}
    return {"resource": "/webhooks/incoming/{identifier}", "path": path, "httpMethod": "POST",
            "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": {"identifier": identifier}, "stageVariables": None,
            "body": body if isinstance(body, str) else json.dumps(body), "isBase64Encoded": False,
            "requestContext": {"resourcePath": "/webhooks/incoming/{identifier}", "httpMethod": "POST",
                               "path": f"/Prod{path}", "stage": "Prod", "requestId": "bench",
                               "accountId": "123456789012", "identity": {"sourceIp": "127.0.0.1"}}}


def invoke(handler: Any, event: dict[str, Any]) -> tuple[int, Any]:
    with quiet_stdout():
        response = handler.lambda_handler(event, lambda_context())
    body = response.get("body") or ""
    try:
        return response["statusCode"], json.loads(body)
    except ValueError:
        return response["statusCode"], body
