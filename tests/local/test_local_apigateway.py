"""API Gateway REST (payload 1.0) emulation: the events handlers get and the responses callers get."""

import base64
from pathlib import Path

import pytest

from chatbridge.local.apigateway import MalformedResponse, Router, build_event, parse_response
from chatbridge.local.template import ApiRoute, FunctionDef


def _fn(name):
    return FunctionDef(logical_id=name, name=name, code_dir=Path("."), handler="app.handler",
                       environment={}, layer_dirs=())


ROUTER = Router([
    (ApiRoute("/webhooks/incoming/{identifier}", "POST", "Post"), _fn("Ingest")),
    (ApiRoute("/webhooks/incoming/{identifier}", "GET", "Get"), _fn("Ingest")),
    (ApiRoute("/admin/{proxy+}", "ANY", "Admin"), _fn("Admin")),
    (ApiRoute("/admin/chats/{id}", "GET", "Chat"), _fn("Chats")),
])


def test_path_parameters_are_extracted():
    match = ROUTER.match("POST", "/webhooks/incoming/openwa-demo")
    assert match.function.logical_id == "Ingest"
    assert match.path_parameters == {"identifier": "openwa-demo"}


def test_a_literal_route_wins_over_a_greedy_proxy():
    assert ROUTER.match("GET", "/admin/chats/7").function.logical_id == "Chats"
    greedy = ROUTER.match("DELETE", "/admin/chats/7")
    assert greedy.function.logical_id == "Admin"
    assert greedy.path_parameters == {"proxy": "chats/7"}


def test_unknown_paths_and_methods_do_not_match():
    assert ROUTER.match("GET", "/nowhere") is None
    assert ROUTER.match("DELETE", "/webhooks/incoming/x") is None
    assert ROUTER.allowed_methods("/webhooks/incoming/x") == ["GET", "POST"]
    assert ROUTER.allowed_methods("/nowhere") == []


def _event(body=b"", headers=(), path="/webhooks/incoming/demo?output=json&a=1&a=2", binary_types=()):
    match = ROUTER.match("POST", path.split("?")[0])
    return build_event(method="POST", raw_path=path, headers=list(headers), body=body, match=match,
                       stage="Prod", source_ip="127.0.0.1", binary_media_types=binary_types)


def test_event_carries_single_and_multi_value_headers_and_query():
    event = _event(b'{"a": 1}', [("Content-Type", "application/json"), ("X-Tag", "1"), ("X-Tag", "2")])
    assert event["httpMethod"] == "POST"
    assert event["resource"] == "/webhooks/incoming/{identifier}"
    assert event["path"] == "/webhooks/incoming/demo"
    assert event["headers"]["X-Tag"] == "2"
    assert event["multiValueHeaders"]["X-Tag"] == ["1", "2"]
    assert event["queryStringParameters"] == {"output": "json", "a": "2"}
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    assert event["pathParameters"] == {"identifier": "demo"}
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["stage"] == "Prod" and event["requestContext"]["requestId"]
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_text_bodies_stay_text_and_binary_bodies_are_base64():
    form = _event(b"Body=h%C3%A9llo", [("Content-Type", "application/x-www-form-urlencoded")])
    assert form["isBase64Encoded"] is False and form["body"] == "Body=h%C3%A9llo"
    raw = b"\x89PNG\x00\xff"
    image = _event(raw, [("Content-Type", "image/png")])
    assert image["isBase64Encoded"] is True
    assert base64.b64decode(image["body"]) == raw
    declared = _event(b"plain", [("Content-Type", "application/octet-stream")], binary_types=("application~1octet-stream",))
    assert declared["isBase64Encoded"] is True


def test_empty_request_has_null_body_headers_and_query():
    event = _event(path="/webhooks/incoming/demo")
    assert event["body"] is None and event["queryStringParameters"] is None and event["headers"] is None


def test_response_merges_headers_and_decodes_base64():
    response = parse_response({"statusCode": 201, "headers": {"A": "1"}, "multiValueHeaders": {"B": ["x", "y"]},
                               "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True})
    assert response.status == 201
    assert response.headers == [("A", "1"), ("B", "x"), ("B", "y")]
    assert response.body == b"\x00\x01"


@pytest.mark.parametrize("result", [None, "text", {"statusCode": "abc"}, {"body": {"not": "a string"}}])
def test_malformed_handler_answers_are_reported(result):
    with pytest.raises(MalformedResponse):
        parse_response(result)
