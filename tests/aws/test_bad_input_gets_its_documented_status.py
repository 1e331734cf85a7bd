"""Bad input through the real handlers: each case gets its documented status, never a 500 or a traceback.

A table of (case, request) -> (status, error code) for the ingest Lambda (README "Request bodies" and
"HTTP API"; ``chatbridge.errors``) and for the admin Lambda's spec route. A refused request writes nothing:
the chat table stays empty (and no spec is stored by a refused PUT).
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass

import boto3
import pytest

from chatbridge.repository import chats, specs
from chatbridge.spec.model import IncomingWebhookSpec
from support.aws import api_event, call
from support.lambda_context import Context
from support.pipeline import load_handler

ingest_app = load_handler("ingest")
admin_app = load_handler("admin")

SPEC = {"identifier": "bad-input", "name": "Bad input", "messages": "messages", "chat_id": "chat",
        "message_id": "id", "text": [{"body": "{{msg.text}}"}]}
FORM = "application/x-www-form-urlencoded"
TEN_MB = 10 * 1024 * 1024
DEEP = 10_000
TRACEBACK_MARKERS = ("Traceback", 'File "')


@dataclass(frozen=True)
class Case:
    body: str | None
    content_type: str | None = "application/json"
    is_base64: bool = False


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def message(**fields) -> str:
    return json.dumps({"messages": [{"chat": "c1", "id": "m1", "text": "hi", **fields}]})


# case name -> (request, status, error code); None code: a success or a documented non-error answer
INGEST_CASES: dict[str, tuple[Case, int, str | None]] = {
    "truncated JSON": (Case('{"messages": [{"chat": "c1", "text": "hi"'), 400, "not_json"),
    "truncated JSON cut inside a string": (Case('{"messages": [{"chat": "c1", "text": "h'), 400, "not_json"),
    "truncated multi-byte UTF-8": (Case(b64('{"messages": "caf\u00e9'.encode()[:-1]), is_base64=True), 400,
                                   "not_utf8"),
    "XML content type": (Case("<message>hi</message>", "text/xml"), 415, "unsupported_content_type"),
    "multipart form data": (Case("--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--",
                                 "multipart/form-data; boundary=b"), 415, "unsupported_content_type"),
    "octet stream": (Case(b64(b"\x89PNG\r\n"), "application/octet-stream", True), 415, "unsupported_content_type"),
    "image sent as base64": (Case(b64(b"GIF89a"), "image/gif", True), 415, "unsupported_content_type"),
    "10 MB JSON body": (Case('{"pad": "' + "x" * TEN_MB + '"}'), 413, "too_large"),
    "10 MB base64 body": (Case(b64(b"x" * TEN_MB), is_base64=True), 413, "too_large"),
    "10 MB form body": (Case("a=" + "x" * TEN_MB, FORM), 413, "too_large"),
    "10,000-deep arrays": (Case("[" * DEEP + "]" * DEEP), 400, "too_deep"),
    "10,000-deep objects": (Case('{"a":' * DEEP + "1" + "}" * DEEP), 400, "too_deep"),
    "10,000-deep and never closed": (Case("[" * DEEP), 400, None),
    "deep nesting just past the limit": (Case("[" * 65 + "]" * 65), 400, "too_deep"),
    "invalid UTF-8 byte": (Case(b64(b'{"text": "\xff"}'), is_base64=True), 400, "not_utf8"),
    "overlong UTF-8 encoding": (Case(b64(b'{"text": "\xc0\xaf"}'), is_base64=True), 400, "not_utf8"),
    "UTF-8 encoded surrogate": (Case(b64(b'{"text": "\xed\xa0\x80"}'), is_base64=True), 400, "not_utf8"),
    "lone surrogate in the event body": (Case('{"messages": [{"chat": "c1", "text": "\ud800"}]}'), 400, "not_utf8"),
    "escaped lone high surrogate": (Case(message(text="\\ud800").replace("\\\\ud800", "\\ud800")), 400,
                                    "not_utf8"),
    "escaped lone low surrogate in a key": (Case('{"\\udc00": 1, "messages": []}'), 400, "not_utf8"),
    "percent-encoded surrogate in a form": (Case("text=%ED%A0%80", FORM), 400, "not_utf8"),
    "raw NUL byte inside a JSON string": (Case('{"messages": [{"chat": "c1", "text": "a\x00b"}]}'), 400,
                                          "not_json"),
    "NUL byte outside JSON": (Case('{"messages": []}\x00'), 400, "not_json"),
    "number too large for a float": (Case(message(amount="AMOUNT").replace('"AMOUNT"', "1e400")), 400,
                                     "not_json"),
    "integer with 5,000 digits": (Case(message(amount="AMOUNT").replace('"AMOUNT"', "9" * 5000)), 400,
                                  "not_json"),
    "NaN": (Case('{"messages": [], "x": NaN}'), 400, "not_json"),
    "base64 flag with bad base64": (Case("%%%not base64", is_base64=True), 400, "not_base64"),
    "base64 flag with missing padding": (Case("eyJh", is_base64=True), 400, None),
    "empty body": (Case(""), 400, "empty_body"),
    "no body at all": (Case(None), 400, "empty_body"),
    "whitespace body": (Case(" \r\n\t "), 400, "empty_body"),
    "empty base64 body": (Case("", is_base64=True), 400, "empty_body"),
    "JSON null": (Case("null"), 400, "not_json"),
    "JSON number": (Case("42"), 400, "not_json"),
    "JSON string": (Case('"hello"'), 400, "not_json"),
    "JSON true": (Case("true"), 400, "not_json"),
}


def stored_items() -> list[dict]:
    return boto3.resource("dynamodb").Table(os.environ["CHAT_TABLE"]).scan(ConsistentRead=True)["Items"]


def post(case: Case, identifier: str = "bad-input", *, query: dict | None = None) -> tuple[int, dict, str]:
    headers = {"Content-Type": case.content_type} if case.content_type is not None else {}
    event = api_event("POST", f"/webhooks/incoming/{identifier}", body=case.body, headers=headers, query=query,
                      path_parameters={"identifier": identifier}, resource="/webhooks/incoming/{identifier}",
                      is_base64=case.is_base64)
    response = ingest_app.lambda_handler(event, Context())
    return response["statusCode"], json.loads(response["body"]), response["body"]


def assert_clean_refusal(raw_body: str, body: dict) -> None:
    assert body["reason"] and isinstance(body["reason"], str)
    assert not any(marker in raw_body for marker in TRACEBACK_MARKERS), raw_body[:500]
    assert len(raw_body) < 2_000, "a refusal does not echo the body back"


@pytest.fixture
def ingest_spec(aws_stack):
    spec, _ = specs.save_spec(IncomingWebhookSpec.model_validate(SPEC))
    return spec


@pytest.mark.parametrize("name", list(INGEST_CASES))
def test_bad_webhook_bodies_get_their_documented_4xx_and_write_nothing(ingest_spec, name):
    case, status, code = INGEST_CASES[name]
    answer_status, body, raw = post(case)
    assert answer_status == status, body
    if code is not None:
        assert body["code"] == code
    assert_clean_refusal(raw, body)
    assert stored_items() == []


@pytest.mark.parametrize("identifier", ["x" * 2000, "ab", "caf\u00e9-hook", "a/b/c", "\ud800\ud800\ud800\ud800",
                                        "nul\x00byte", "%00%00", " " * 10])
def test_identifiers_no_spec_can_have_are_404_not_storage_errors(ingest_spec, identifier):
    status, body, raw = post(Case(message()), identifier)
    assert status == 404 and body["status"] == "not_found"
    assert_clean_refusal(raw, body)


def test_a_flood_of_made_up_identifiers_keeps_the_spec_cache_bounded(ingest_spec):
    for n in range(specs.MAX_CACHED_SPECS + 50):
        assert specs.cached_spec(f"made-up-{n}") is None
    assert len(specs._cache) <= specs.MAX_CACHED_SPECS
    assert post(Case(message()))[0] == 200


@pytest.mark.parametrize("content_type", ["application/json; charset=latin-1", "APPLICATION/JSON", ";;;", "",
                                          "text/plain", "application/vnd.custom+json; v=2", None])
def test_mislabelled_json_is_read_as_json(ingest_spec, content_type):
    status, body, _ = post(Case(message(), content_type))
    assert status == 200 and body["messages"] == 1


def test_integers_above_2_to_the_53_stay_exact_in_the_message_text_and_id(ingest_spec):
    big_id, amount, huge = 2**53 + 1, 123456789012345678901234567890, int("9" * 60)
    body = json.dumps({"messages": [{"chat": "c1", "id": "ID", "text": "TEXT"}]}).replace(
        '"ID"', str(big_id)).replace('"TEXT"', f'{{"amount": {amount}, "huge": {huge}}}')
    specs.save_spec(IncomingWebhookSpec.model_validate({**SPEC, "identifier": "big-numbers",
                                                         "text": [{"body": "{{msg.text.amount}} {{msg.text.huge}}"}]}))
    status, answer, _ = post(Case(body), "big-numbers")
    assert status == 200 and answer["messages"] == 1
    [stored] = chats.list_messages(answer["chats"][0])
    assert stored["msg"] == f"{amount} {huge}"
    assert stored["message_id"] == str(big_id) == "9007199254740993"
    assert post(Case(body), "big-numbers")[1]["duplicates"] == 1


def test_huge_numbers_in_the_raw_payload_do_not_stop_the_chat_from_being_stored(ingest_spec):
    body = message(extra="X").replace('"X"', f"[{'9' * 60}, -{'1' * 45}, 1e300, -1e-300]")
    status, answer, _ = post(Case(body))
    assert status == 200 and answer["messages"] == 1
    assert chats.get_chat(answer["chats"][0])["incoming_chat"]["chat_external_id"] == "c1"


@pytest.mark.parametrize("moment", ["1e300", "9" * 60, "-" + "9" * 60, '"99999999999999999999999"',
                                    '"+275760-09-13T00:00:00Z"'])
def test_a_message_time_no_calendar_holds_falls_back_to_the_arrival_time(aws_stack, moment):
    specs.save_spec(IncomingWebhookSpec.model_validate({**SPEC, "time": "t"}))
    status, answer, _ = post(Case(message(t="T").replace('"T"', moment)))
    assert status == 200 and answer["messages"] == 1
    [stored] = chats.list_messages(answer["chats"][0])
    assert abs(stored["time"] - time.time()) < 600


def test_an_empty_key_in_the_payload_does_not_stop_the_chat_from_being_stored(ingest_spec):
    status, answer, _ = post(Case('{"": 1, "messages": [{"chat": "c1", "id": "m1", "text": "hi", "": {"": 2}}]}'))
    assert status == 200 and answer["messages"] == 1
    chat = chats.get_chat(answer["chats"][0])
    assert chat["raw"]["messages"][0]["text"] == "hi" and "" not in chat["raw"]


def test_escaped_nul_bytes_are_text_and_survive_storage(ingest_spec):
    status, answer, _ = post(Case(message(text="a\u0000b", chat="c\u00001")))
    assert status == 200 and answer["messages"] == 1
    [stored] = chats.list_messages(answer["chats"][0])
    assert stored["msg"] == "a\x00b"


def test_emoji_as_a_surrogate_pair_escape_is_accepted(ingest_spec):
    status, answer, _ = post(Case('{"messages": [{"chat": "c1", "id": "m1", "text": "\\ud83d\\ude00"}]}'))
    assert status == 200
    assert chats.list_messages(answer["chats"][0])[0]["msg"] == "\U0001f600"


@pytest.mark.parametrize("template", ["{{msg.absent}}", "{{msg.absent.deeper.still}}", "{{msg.text.0.x}}",
                                      "{{msg.$root.nowhere}}", "{{msg.absent|||also_absent}}"])
def test_templates_on_absent_paths_skip_the_message_with_a_reason_and_write_nothing(aws_stack, template):
    specs.save_spec(IncomingWebhookSpec.model_validate({**SPEC, "text": [{"body": template}]}))
    status, body, _ = post(Case(message()))
    assert status == 200 and body == {"status": "ok", "chats": [], "messages": 0, "duplicates": 0, "skipped": 1}
    assert stored_items() == []


def test_a_partly_absent_template_keeps_the_text_that_is_there(aws_stack):
    specs.save_spec(IncomingWebhookSpec.model_validate({**SPEC, "text": [{"body": "{{msg.text}}{{msg.absent}}!"}]}))
    status, body, _ = post(Case(message()))
    assert status == 200 and body["messages"] == 1
    assert chats.list_messages(body["chats"][0])[0]["msg"] == "hi!"


# -- the admin handler's spec route ----------------------------------------------------------------

ADMIN_CASES: dict[str, tuple[Case, int]] = {
    "truncated JSON": (Case('{"name": "x", "chat_id": "fr'), 400),
    "XML": (Case("<spec/>", "text/xml"), 400),
    "empty body": (Case(""), 400),
    "no body": (Case(None), 400),
    "JSON null": (Case("null"), 400),
    "JSON number": (Case("1e5"), 400),
    "JSON string": (Case('"spec"'), 400),
    "JSON list": (Case("[]"), 400),
    "10,000-deep arrays": (Case('{"attributes": ' + "[" * DEEP + "]" * DEEP + "}"), 400),
    "10,000-deep objects": (Case('{"a":' * DEEP + "1" + "}" * DEEP), 400),
    "10 MB body": (Case(json.dumps({**SPEC, "attributes": {"pad": "x" * TEN_MB}})), 413),
    "too big to store, under API Gateway's limit": (Case(json.dumps({**SPEC, "attributes": {"pad": "x" * 500_000}})),
                                                    413),
    "invalid UTF-8": (Case(b64(b'{"name": "\xff"}'), is_base64=True), 400),
    "bad base64": (Case("%%%", is_base64=True), 400),
    "lone surrogate escape": (Case(json.dumps({**SPEC, "name": "x"}).replace('"x"', '"\\ud800"')), 400),
    "lone surrogate in the event body": (Case(json.dumps({**SPEC, "name": "\ud800"}, ensure_ascii=False)), 400),
    "NaN": (Case(json.dumps({**SPEC, "attributes": {"n": float("nan")}})), 400),
    "number too large for a float": (Case(json.dumps({**SPEC, "attributes": {"n": "N"}}).replace('"N"', "1e400")),
                                     400),
    "unknown placeholder": (Case(json.dumps({**SPEC, "text": [{"body": "{{args.x}}"}]})), 422),
    "unknown field": (Case(json.dumps({**SPEC, "nik": "name"})), 422),
    "wrong types everywhere": (Case(json.dumps({"name": ["x"], "chat_id": {"a": 1}, "text": 5, "enabled": "maybe",
                                                "attributes": [1]})), 422),
}


def put_spec(case: Case, identifier: str = "bad-input") -> tuple[int, dict, str]:
    headers = {"Content-Type": case.content_type} if case.content_type is not None else {}
    event = api_event("PUT", f"/admin/incoming-webhooks/{identifier}", body=case.body, headers=headers,
                      path_parameters={"identifier": identifier}, resource="/admin/incoming-webhooks/{identifier}",
                      is_base64=case.is_base64)
    response = admin_app.lambda_handler(event, Context())
    return response["statusCode"], json.loads(response["body"]), response["body"]


@pytest.mark.parametrize("name", list(ADMIN_CASES))
def test_bad_spec_bodies_get_their_documented_4xx_and_store_nothing(aws_stack, name):
    case, status = ADMIN_CASES[name]
    answer_status, body, raw = put_spec(case)
    assert answer_status == status, body
    assert_clean_refusal(raw, body)
    assert specs.get_spec("bad-input") is None


def test_a_spec_attribute_too_large_for_a_dynamodb_number_is_kept_as_its_exact_text(aws_stack):
    status, body, _ = put_spec(Case(json.dumps({**SPEC, "attributes": {"n": "N"}}).replace('"N"', "9" * 60)))
    assert status == 201
    assert specs.get_spec("bad-input").attributes == {"n": "9" * 60}


def test_a_spec_whose_templates_reference_absent_paths_is_accepted(aws_stack):
    status, body, _ = put_spec(Case(json.dumps({**SPEC, "text": [{"body": "{{msg.no.such.path}}"}],
                                                "nick": "nobody.home"})))
    assert status == 201 and body["text"] == [{"conditions": "", "body": "{{msg.no.such.path}}"}]


@pytest.mark.parametrize("identifier", ["x" * 2000, "ab", "caf\u00e9-hook"])
def test_spec_identifiers_outside_the_pattern_are_refused_not_storage_errors(aws_stack, identifier):
    status, body, raw = put_spec(Case(json.dumps(SPEC).replace('"bad-input"', json.dumps(identifier))), identifier)
    assert status == 422 and body["errors"][0]["field"] == "identifier"
    assert_clean_refusal(raw, body)
    event = api_event("GET", f"/admin/incoming-webhooks/{identifier}", path_parameters={"identifier": identifier},
                      resource="/admin/incoming-webhooks/{identifier}")
    assert call(admin_app, event)[0] == 404


# -- numbers in admin paths and query strings -------------------------------------------------------

ODD_NUMBERS = ["\u00b2", "\u0661", "9" * 50, "-1", "1e3", ""]  # superscript two, Arabic-Indic one, 50 digits


def admin_call(method: str, path: str, *, query: dict | None = None, body=None, **path_parameters) -> tuple[int, dict]:
    return call(admin_app, api_event(method, path, query=query, body=body, path_parameters=path_parameters or None))


@pytest.mark.parametrize("number", ODD_NUMBERS)
def test_odd_numbers_in_admin_urls_are_400_or_404_never_500(ingest_spec, number):
    if number:  # an empty path segment is another route
        assert admin_call("GET", f"/admin/chats/{number}", chat_id=number)[0] == 404
        assert admin_call("GET", f"/admin/chats/{number}/messages", chat_id=number)[0] == 404
        assert admin_call("POST", f"/admin/chats/{number}/messages", body={"msg": "hi", "user_id": 1},
                          chat_id=number)[0] == 404
        assert admin_call("POST", f"/admin/chats/{number}/files", body={"name": "a.pdf", "size": 9},
                          chat_id=number)[0] == 404
    chat_id = post(Case(message()))[1]["chats"][0]
    for path, query in [("/admin/deliveries", {"chat_id": number}), ("/admin/chats", {"limit": number}),
                        (f"/admin/chats/{chat_id}/messages", {"after": number}),
                        ("/admin/incoming-webhooks/bad-input/requests", {"limit": number})]:
        status, body = admin_call("GET", path, query=query)
        assert status in (200, 400), (path, query, status, body)
        assert status == 200 or body["reason"]


def test_an_operator_id_too_large_to_store_is_422(ingest_spec):
    chat_id = post(Case(message()))[1]["chats"][0]
    status, body = admin_call("POST", f"/admin/chats/{chat_id}/messages", body={"msg": "hi", "user_id": 10**40},
                              chat_id=str(chat_id))
    assert status == 422 and body["errors"][0]["field"] == "user_id"
