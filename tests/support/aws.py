"""moto resources made FROM template.yaml, so tests and the template cannot drift apart.

``aws_stack`` creates every table and queue the template defines (the local stack's own reader and
creator, ``chatbridge.local.template`` / ``chatbridge.local.resources``), sets the environment the
template gives the functions, and clears every cached client so each test starts clean.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chatbridge.local import moto_dynamodb, moto_stack
from chatbridge.repository.caches import forget_all
from support.lambda_context import Context
from support.paths import TEMPLATE


def create_from_template(monkeypatch: pytest.MonkeyPatch, function: str = "IngestFunction") -> dict[str, Any]:
    """Inside an active moto mock: create the template's resources; set ``function``'s environment."""
    return moto_stack.create_from_template(TEMPLATE, setenv=monkeypatch.setenv, function=function,
                                           unsetenv=lambda name: monkeypatch.delenv(name, raising=False))


@pytest.fixture
def aws_stack(monkeypatch):
    undo = moto_dynamodb.install()  # atomic requests, one rollback copy per transaction: as the local stack runs
    try:
        with mock_aws():
            yield create_from_template(monkeypatch)
            forget_all()
    finally:
        undo()



@pytest.fixture
def template_api(aws_stack, httpserver):
    """The template's API (admin and webhook routes) served by the real handlers on a loopback port, as API
    Gateway would: each request is routed by the template's own routes and turned into the proxy event API
    Gateway sends (the local stack's ``build_event``). Yields the base URL."""
    from werkzeug import Response

    from chatbridge.local.apigateway import Router, build_event, parse_response
    from support.pipeline import load_handler
    router = Router(aws_stack["template"].routes)

    def handle(request):
        match = router.match(request.method, request.path)
        if match is None:
            return Response("no route", status=404)
        event = build_event(method=request.method, raw_path=request.full_path.rstrip("?"),
                            headers=list(request.headers.items()), body=request.get_data(), match=match,
                            stage="Prod", source_ip="127.0.0.1")
        answer = parse_response(load_handler(match.function.code_dir.name).lambda_handler(event, Context()))
        return Response(answer.body, status=answer.status, headers=answer.headers)

    httpserver.expect_request(re.compile(".*")).respond_with_handler(handle)
    return httpserver.url_for("").rstrip("/")


def api_event(method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None,
              query: dict[str, str] | None = None, path_parameters: dict[str, str] | None = None,
              resource: str | None = None, is_base64: bool = False) -> dict[str, Any]:
    """An API Gateway REST (payload 1.0) proxy event, as the real API sends it."""
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
    return {"resource": resource or path, "path": path, "httpMethod": method, "headers": headers or {},
            "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": path_parameters, "stageVariables": None, "body": body, "isBase64Encoded": is_base64,
            "requestContext": {"resourcePath": resource or path, "httpMethod": method, "path": f"/Prod{path}",
                               "stage": "Prod", "requestId": "test", "accountId": "123456789012",
                               "identity": {"sourceIp": "127.0.0.1"}}}


def call(handler: Any, event: dict[str, Any]) -> tuple[int, Any]:
    """Invoke a handler; returns (status, decoded JSON body or text)."""
    response = handler.lambda_handler(event, Context())
    body = response.get("body") or ""
    try:
        return response["statusCode"], json.loads(body)
    except ValueError:
        return response["statusCode"], body


def chat_table_items() -> list[dict[str, Any]]:
    """Every item of the chat table (all pages, consistent read): what a test counts after faults."""
    table = boto3.resource("dynamodb").Table(os.environ["CHAT_TABLE"])
    found, kwargs = [], {"ConsistentRead": True}
    while True:
        answer = table.scan(**kwargs)
        found.extend(answer["Items"])
        if "LastEvaluatedKey" not in answer:
            return found
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
