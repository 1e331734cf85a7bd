"""Fuzz the request path (hypothesis): no request makes the ingest or admin handler answer 500.

Random API Gateway events (bodies, headers, content types, the base64 flag, identifiers, query strings)
go through the real handlers on moto. Every answer must be a documented status, JSON with a reason (or
the handshake's text/plain), with no traceback; a refused request writes nothing to the chat table, and
the chat table is never half-written (a chat without its lookup item, or a lookup without its chat).
The default run keeps ``max_examples`` modest; the ``slow`` variants search ten times longer.
"""

from __future__ import annotations

import base64
import json
import os
import string
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from chatbridge.repository import chats, specs
from chatbridge.spec.model import IncomingWebhookSpec
from support.aws import chat_table_items
from support.lambda_context import Context
from support.pipeline import load_handler

ingest_app = load_handler("ingest")
admin_app = load_handler("admin")

HOOKS = {
    "fuzz-hook": {"name": "Fuzz", "messages": "messages", "chat_id": "chat", "nick": "name|||from.first",
                  "message_id": "id", "time": "t", "text": [{"conditions": "type!=image", "body": "{{msg.text}}"}],
                  "image": {"conditions": "type=image", "body": "[img]{{msg.url}}[/img] {{msg.caption}}"}},
    "fuzz-root": {"name": "Root", "chat_id": "from|||chat.id", "text": [{"body": "{{msg.body|||text}}"}],
                  "conditions": "kind!=status", "log_requests": True,
                  "verification": {"handshake": {"verify_token": "tok"}}},
    "fuzz-signed": {"name": "Signed", "messages": "messages", "chat_id": "chat", "text": [{"body": "{{msg}}"}],
                    "verification": {"shared_secret": {"header": "X-Secret", "value": "s3cret"}}},
}
INGEST_STATUSES = {200, 400, 401, 404, 405, 413, 415}
ADMIN_STATUSES = {200, 201, 400, 404, 413, 422}
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
FUZZ_LONG = settings(FUZZ, max_examples=1000)
FUZZ_LONG_INGEST = settings(FUZZ, max_examples=400)  # moto copies the chat table per transaction: cost grows

# -- strategies ------------------------------------------------------------------------------------

any_text = st.text(st.characters(blacklist_categories=()), max_size=40)  # lone surrogates and NULs included
short_text = st.text(max_size=20)
json_scalars = st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40) | \
    st.floats(allow_nan=False, allow_infinity=False) | short_text
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(short_text, inner, max_size=4), max_leaves=12)
messages = st.lists(st.fixed_dictionaries(
    {"chat": st.sampled_from(["c1", "c2", 7]) | short_text, "text": json_values},
    optional={"id": st.integers(0, 30) | short_text | st.integers(min_value=2**53, max_value=2**70),
              "type": st.sampled_from(["text", "image", "status"]), "url": short_text, "t": json_scalars,
              "name": json_values, "from": st.fixed_dictionaries({"first": short_text})}), max_size=5)
payloads = st.fixed_dictionaries({"messages": messages}) | \
    st.fixed_dictionaries({"from": st.sampled_from(["447700900000@c.us", "x"]), "body": json_values},
                          optional={"kind": st.sampled_from(["message", "status"])}) | json_values


@st.composite
def bodies(draw) -> tuple[str | None, bool]:
    """(event body, isBase64Encoded): JSON that may map, broken JSON, form bodies, bytes, nothing."""
    kind = draw(st.sampled_from(["json", "json", "json", "truncated", "form", "bytes", "text", "none"]))
    if kind == "none":
        return draw(st.sampled_from([None, ""])), draw(st.booleans())
    if kind == "bytes":
        raw = draw(st.binary(max_size=200))
        return (base64.b64encode(raw).decode(), True) if draw(st.booleans()) else (raw.decode("latin-1"), False)
    if kind == "form":
        fields = draw(st.dictionaries(short_text, any_text, max_size=4))
        text = "&".join(f"{k}={v}" for k, v in fields.items())
    elif kind == "text":
        text = draw(any_text)
    else:
        text = json.dumps(draw(payloads), ensure_ascii=draw(st.booleans()))
        if kind == "truncated":
            text = text[:draw(st.integers(0, max(0, len(text) - 1)))]
    if draw(st.booleans()) and draw(st.booleans()):
        try:
            return base64.b64encode(text.encode("utf-8")).decode(), True
        except UnicodeEncodeError:
            pass
    return text, False


content_types = st.sampled_from([None, "application/json", "application/json; charset=utf-8", "text/plain",
                                 "application/x-www-form-urlencoded", "text/xml", "multipart/form-data; boundary=x",
                                 "application/vnd.x+json", "*/*", "", ";", "image/png"]) | short_text
json_content_types = st.sampled_from([None, "application/json", "application/json; charset=utf-8", "text/plain"])
identifiers = st.sampled_from(list(HOOKS)) | st.sampled_from(["no-such-hook", "ab"]) | \
    st.text(string.ascii_letters + string.digits + "_-", min_size=4, max_size=64) | any_text
header_maps = st.dictionaries(st.text(string.ascii_letters + "-", min_size=1, max_size=12), any_text, max_size=4)
query_maps = st.dictionaries(st.sampled_from(["output", "hub.mode", "hub.verify_token", "hub.challenge", "x"]) |
                             short_text, any_text | st.sampled_from(["json", "subscribe", "tok"]), max_size=4) | \
    st.none()
texts = st.text(min_size=1, max_size=30) | json_values
plausible_messages = st.lists(st.fixed_dictionaries(
    {"chat": st.sampled_from(["c1", "c2", "c3", 7, 2**60]), "text": texts},
    optional={"id": st.integers(0, 30) | st.integers(min_value=2**53, max_value=2**70) | short_text,
              "type": st.sampled_from(["text", "image"]), "url": short_text, "caption": texts,
              "t": st.integers(0, 2 * 10**12) | json_scalars, "name": texts,
              "from": st.fixed_dictionaries({"first": short_text})}), min_size=1, max_size=6)
plausible_payloads = {
    "fuzz-hook": st.fixed_dictionaries({"messages": plausible_messages}),
    "fuzz-signed": st.fixed_dictionaries({"messages": plausible_messages}),
    "fuzz-root": st.fixed_dictionaries({"from": st.sampled_from(["447700900000@c.us", "4478"]), "body": texts},
                                       optional={"kind": st.sampled_from(["message", "status"])}),
}


@st.composite
def ingest_requests(draw) -> dict[str, Any]:
    """Half plausible (a known hook, JSON that maps, the right secret) so storage is reached; half wild."""
    if draw(st.booleans()):
        identifier = draw(st.sampled_from(list(HOOKS)))
        text = json.dumps(draw(plausible_payloads[identifier]), ensure_ascii=draw(st.booleans()))
        headers = draw(header_maps)
        if identifier == "fuzz-signed" and draw(st.integers(0, 3)) > 0:
            headers["X-Secret"] = "s3cret"
        return {"method": "POST", "identifier": identifier, "body_and_flag": (text, False), "headers": headers,
                "content_type": draw(json_content_types), "query": draw(st.none() | st.just({"output": "json"}))}
    return {"method": draw(st.sampled_from(["POST", "POST", "GET"])), "identifier": draw(identifiers),
            "body_and_flag": draw(bodies()), "content_type": draw(content_types), "headers": draw(header_maps),
            "query": draw(query_maps)}


def event(method: str, path: str, *, body: str | None, is_base64: bool, headers: dict[str, str] | None,
          query: dict[str, str] | None, path_parameters: dict[str, str], resource: str) -> dict[str, Any]:
    return {"resource": resource, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": path_parameters, "stageVariables": None, "body": body, "isBase64Encoded": is_base64,
            "requestContext": {"resourcePath": resource, "httpMethod": method, "path": f"/Prod{path}",
                               "stage": "Prod", "requestId": "fuzz", "accountId": "123456789012",
                               "identity": {"sourceIp": "127.0.0.1"}}}


# -- invariants ------------------------------------------------------------------------------------

def chat_table_size() -> int:
    """The live item count (moto counts at once; a scan per example would cost most of the run)."""
    return boto3.client("dynamodb").describe_table(TableName=os.environ["CHAT_TABLE"])["Table"]["ItemCount"]


def assert_no_half_written_chat(items: list[dict]) -> None:
    chat_ids = {int(item["id"]) for item in items if item["type"] == "chat"}
    lookups = {int(item["chat_id"]) for item in items if item["type"] == "chat_lookup"}
    assert chat_ids == lookups, f"chats {sorted(chat_ids)} vs lookups {sorted(lookups)}"
    messages = {int(item["chat_id"]) for item in items if item["type"] == "message"}
    assert messages <= chat_ids, "no message without its chat"


def assert_chat_whole(chat_id: int) -> None:
    """The chat an answer names exists, and its lookup item points back at it."""
    chat = chats.get_chat(chat_id)
    assert chat is not None
    assert chats.find_chat_id(chat["iwh_id"], chat["incoming_chat"]["chat_external_id"]) == chat_id


def assert_answer(response: dict[str, Any], statuses: set[int]) -> Any:
    status, raw = response["statusCode"], response.get("body") or ""
    assert status in statuses, (status, raw[:300])
    note(f"HTTP {status}")
    assert "Traceback" not in raw and 'File "' not in raw
    content_type = ((response.get("multiValueHeaders") or {}).get("Content-Type") or [""])[0]
    if content_type == "text/plain":
        assert status == 200
        return raw
    assert content_type == "application/json", content_type
    body = json.loads(raw)
    if status >= 400 or body.get("status") in ("ignored", "error"):
        assert isinstance(body["reason"], str) and body["reason"]
    return body


@pytest.fixture
def hooks(aws_stack):
    for identifier, definition in HOOKS.items():
        specs.save_spec(IncomingWebhookSpec.model_validate({"identifier": identifier, **definition}))
    yield
    assert_no_half_written_chat(chat_table_items())  # once over everything the run wrote


# -- the fuzz tests --------------------------------------------------------------------------------

def _ingest_once(method, identifier, body_and_flag, content_type, headers, query) -> None:
    body, is_base64 = body_and_flag
    headers = dict(headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    before = chat_table_size()
    response = ingest_app.lambda_handler(event(
        method, f"/webhooks/incoming/{identifier}", body=body, is_base64=is_base64, headers=headers or None,
        query=query, path_parameters={"identifier": identifier}, resource="/webhooks/incoming/{identifier}"),
        Context())
    answer = assert_answer(response, INGEST_STATUSES)
    if response["statusCode"] != 200 or (isinstance(answer, dict) and answer.get("status") != "ok"):
        assert chat_table_size() == before, "a refused or ignored request writes nothing"
        return
    for chat_id in answer.get("chats", []) if isinstance(answer, dict) else []:
        assert_chat_whole(chat_id)
    if isinstance(answer, dict) and answer.get("messages"):
        note("stored messages")


@FUZZ
@given(request=ingest_requests())
def test_no_webhook_request_gets_a_500_or_half_writes_a_chat(hooks, request):
    _ingest_once(**request)


@pytest.mark.slow
@FUZZ_LONG_INGEST
@given(request=ingest_requests())
def test_no_webhook_request_gets_a_500_or_half_writes_a_chat_long_run(hooks, request):
    _ingest_once(**request)


VALID_SPEC_FIELDS = {
    "name": st.text(min_size=1, max_size=30).filter(str.strip),
    "chat_id": st.sampled_from(["from", "chat.id", "$.a[0]", "a||@||0", "a|||b", "$root.x.0"]),
    "messages": st.sampled_from(["", "messages", "entry.0.changes.0.value.messages", "message|||edited_message"]),
    "text": st.lists(st.fixed_dictionaries({"body": st.sampled_from(["{{msg.text}}", "{{msg}}", "hi {{msg.a.b}}!",
                                                                     "{{attributes.k}}", "{{ unclosed"])},
                                           optional={"conditions": st.sampled_from(["", "type=chat",
                                                                                    "a!=b||c=__exists__"])}),
                     min_size=1, max_size=3),
    "conditions": st.sampled_from(["", "type=chat", "a!=b||c=__exists__", "x.y=1,2"]),
    "nick": st.sampled_from(["", "sender.pushname", "a|||b"]), "time": st.sampled_from(["", "t", "$.ts"]),
    "message_id": st.sampled_from(["", "id", "key.id"]), "scope": st.text(max_size=20),
    "enabled": st.booleans(), "log_requests": st.booleans(),
    "attributes": st.dictionaries(st.text(min_size=1, max_size=10), st.none() | st.booleans() | short_text |
                                  st.integers(-(10**45), 10**45) | st.floats(allow_nan=False, allow_infinity=False),
                                  max_size=3),
    "on_closed_chat": st.sampled_from(["new_chat", "pending", "active"]), "reset_operator": st.booleans(),
    "verification": st.none() | st.fixed_dictionaries({"handshake": st.fixed_dictionaries(
        {"verify_token": st.text(min_size=1, max_size=20)})}) | st.fixed_dictionaries({"shared_secret": (
            st.fixed_dictionaries({"header": st.just("X-Secret"), "value": st.text(min_size=1, max_size=20)}))}),
    "chat_id_template": st.none() | st.just("{chat_id}@c.us"),
}
WILD_SPEC_FIELDS = {name: json_values | any_text for name in [*VALID_SPEC_FIELDS, "identifier", "id", "nik",
                                                                "created_at", "webhook_path"]}


@st.composite
def admin_bodies(draw) -> tuple[str | None, bool]:
    """A valid spec, a valid spec with one field gone wrong, random fields, or any body at all."""
    mode = draw(st.sampled_from(["valid", "valid", "one wrong", "wild", "any body"]))
    if mode == "any body":
        return draw(bodies())
    if mode == "wild":
        document = draw(st.fixed_dictionaries({}, optional=WILD_SPEC_FIELDS))
    else:
        required = ("name", "chat_id", "text")
        document = draw(st.fixed_dictionaries({k: VALID_SPEC_FIELDS[k] for k in required},
                                              optional={k: v for k, v in VALID_SPEC_FIELDS.items()
                                                        if k not in required}))
        if mode == "one wrong":
            field = draw(st.sampled_from(sorted(WILD_SPEC_FIELDS)))
            document[field] = draw(WILD_SPEC_FIELDS[field])
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:
        text = text[:draw(st.integers(0, len(text)))]
    return text, False


spec_identifiers = st.integers(0, 3).flatmap(
    lambda n: st.sampled_from(["spec-one", "spec-two", "fuzz-hook"]) if n else identifiers)


def _put_spec_once(identifier, body_and_flag, content_type) -> None:
    body, is_base64 = body_and_flag
    response = admin_app.lambda_handler(event(
        "PUT", f"/admin/incoming-webhooks/{identifier}", body=body, is_base64=is_base64,
        headers={"Content-Type": content_type} if content_type else None, query=None,
        path_parameters={"identifier": identifier}, resource="/admin/incoming-webhooks/{identifier}"), Context())
    answer = assert_answer(response, ADMIN_STATUSES)
    if response["statusCode"] in (200, 201):
        stored = specs.get_spec(identifier)
        assert stored is not None and stored.id == answer["id"]
        assert specs.get_spec_by_id(stored.id).identifier == identifier


admin_requests = dict(identifier=spec_identifiers, body_and_flag=admin_bodies(), content_type=content_types)


@FUZZ
@given(**admin_requests)
def test_no_spec_put_gets_a_500_and_every_stored_spec_reads_back(aws_stack, identifier, body_and_flag, content_type):
    _put_spec_once(identifier, body_and_flag, content_type)


@pytest.mark.slow
@FUZZ_LONG
@given(**admin_requests)
def test_no_spec_put_gets_a_500_and_every_stored_spec_reads_back_long_run(aws_stack, identifier, body_and_flag,
                                                                          content_type):
    _put_spec_once(identifier, body_and_flag, content_type)


# -- healthy storage never answers 503 -------------------------------------------------------------

# Each fits a 1 MiB body but not a 400 KB DynamoDB item: the fields a provider controls that once made an
# item unstorable, a 503 and an endless retry of the whole payload.
OVERSIZED = {"name": "N" * 900_000, "id": "I" * 700_000, "chat": "C" * 900_000, "text": "T" * 900_000,
             "from": {"first": "F" * 900_000}}


@st.composite
def requests_with_an_oversized_field(draw) -> dict[str, Any]:
    """A plausible request (it reaches storage) with one message's field blown up to most of the body."""
    identifier = draw(st.sampled_from(["fuzz-hook", "fuzz-signed"]))
    payload = draw(plausible_payloads[identifier])
    message = payload["messages"][draw(st.integers(0, len(payload["messages"]) - 1))]
    field = draw(st.sampled_from(sorted(OVERSIZED)))
    message[field] = OVERSIZED[field]
    headers = {"X-Secret": "s3cret"} if identifier == "fuzz-signed" else {}
    return {"method": "POST", "identifier": identifier, "body_and_flag": (json.dumps(payload), False),
            "headers": headers, "content_type": draw(json_content_types),
            "query": draw(st.none() | st.just({"output": "json"}))}


def _never_503(request: dict[str, Any]) -> None:
    body, is_base64 = request["body_and_flag"]
    headers = dict(request["headers"])
    if request["content_type"] is not None:
        headers["Content-Type"] = request["content_type"]
    response = ingest_app.lambda_handler(event(
        request["method"], f"/webhooks/incoming/{request['identifier']}", body=body, is_base64=is_base64,
        headers=headers or None, query=request["query"], path_parameters={"identifier": request["identifier"]},
        resource="/webhooks/incoming/{identifier}"), Context())
    assert response["statusCode"] != 503, (response["body"] or "")[:300]
    assert_answer(response, INGEST_STATUSES)


@FUZZ
@given(request=ingest_requests())
def test_healthy_storage_never_answers_503_to_any_request(hooks, request):
    _never_503(request)


@settings(FUZZ, max_examples=25)
@given(request=requests_with_an_oversized_field())
def test_healthy_storage_never_answers_503_to_a_request_with_an_oversized_field(hooks, request):
    _never_503(request)
