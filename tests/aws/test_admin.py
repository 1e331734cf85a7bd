"""Admin API of the ingest half: specs (422 with field and reason), simulate, request log, chats."""

import json

import pytest

from support.aws import api_event, call
from support.lambda_context import Context
from support.paths import ROOT
from support.pipeline import load_handler

admin_app = load_handler("admin")
ingest_app = load_handler("ingest")
SPEC = {"identifier": "batch-chat", "name": "Batch", "scope": "test", "messages": "messages", "chat_id": "chat",
        "nick": "name", "message_id": "id", "conditions": "kind=message", "text": [{"body": "{{msg.text}}"}]}
PAYLOAD = {"kind": "message", "messages": [{"chat": "c1", "name": "Ana", "id": "m1", "text": "hi"}]}


def admin(method, path, body=None, query=None, resource=None, **params):
    return call(admin_app, api_event(method, path, body=body, query=query, path_parameters=params or None,
                                     resource=resource))


def put_spec(definition=SPEC):
    return admin("PUT", f"/admin/incoming-webhooks/{definition['identifier']}", body=definition,
                 identifier=definition["identifier"])


def deliver(payload=PAYLOAD, identifier="batch-chat"):
    return call(ingest_app, api_event("POST", f"/webhooks/incoming/{identifier}", body=payload,
                                      path_parameters={"identifier": identifier}))


def test_put_assigns_an_id_on_first_save_and_keeps_it(aws_stack):
    status, created = put_spec()
    assert status == 201 and created["id"] == 1 and created["webhook_path"] == "/webhooks/incoming/batch-chat"
    status, other = put_spec({**SPEC, "identifier": "second-one"})
    assert other["id"] == 2
    status, updated = put_spec({**created, "name": "Renamed", "id": 99})
    assert status == 200 and updated["id"] == 1 and updated["name"] == "Renamed"
    assert admin("GET", "/admin/incoming-webhooks/batch-chat")[1]["name"] == "Renamed"
    listed = admin("GET", "/admin/incoming-webhooks")[1]["incoming_webhooks"]
    assert [spec["identifier"] for spec in listed] == ["batch-chat", "second-one"]


@pytest.mark.parametrize("change,field", [
    ({"chat_id": ""}, "chat_id"),
    ({"conditions": "type"}, "conditions"),
    ({"on_closed_chat": "reopen"}, "on_closed_chat"),
    ({"verification": {"shared_secret": {"value": "x"}}}, "verification"),
])
def test_invalid_spec_is_422_naming_the_field_and_stores_nothing(aws_stack, change, field):
    status, body = put_spec({**SPEC, **change})
    assert status == 422 and body["errors"][0]["field"].startswith(field) and body["errors"][0]["reason"]
    assert admin("GET", "/admin/incoming-webhooks/batch-chat")[0] == 404


def test_a_condition_that_could_never_match_is_422_naming_the_field_and_the_clause(aws_stack):
    """``type==chat`` used to be stored and then match nothing; now the save says which clause to fix."""
    status, body = put_spec({**SPEC, "text": [{"body": "{{msg.text}}"},
                                              {"conditions": "kind=x||type==chat", "body": "{{msg.text}}"}]})
    assert status == 422 and [error["field"] for error in body["errors"]] == ["text.1.conditions"]
    assert "clause 2 'type==chat': '==' is not an operator (write type=chat)" in body["errors"][0]["reason"]
    assert admin("GET", "/admin/incoming-webhooks/batch-chat")[0] == 404


def test_put_with_a_differing_identifier_or_no_json_is_400(aws_stack):
    assert put_spec({**SPEC, "identifier": "other-one"})[0] == 201
    status, _ = admin("PUT", "/admin/incoming-webhooks/batch-chat", body={**SPEC, "identifier": "other-one"})
    assert status == 400
    assert admin("PUT", "/admin/incoming-webhooks/batch-chat", body="{nope")[0] == 400


def test_delete_removes_the_spec_and_webhooks_then_get_404(aws_stack):
    put_spec()
    assert admin("DELETE", "/admin/incoming-webhooks/batch-chat")[0] == 200
    assert admin("DELETE", "/admin/incoming-webhooks/batch-chat")[0] == 404
    assert admin("GET", "/admin/incoming-webhooks/batch-chat")[0] == 404
    from chatbridge.repository import specs

    specs.forget_cached_specs()
    assert deliver()[0] == 404


def test_simulate_is_a_dry_run(aws_stack):
    put_spec()
    status, body = admin("POST", "/admin/incoming-webhooks/batch-chat/simulate", body=PAYLOAD)
    assert status == 200 and body["dry_run"] is True and body["accepted"] is True
    assert body["chats"][0]["messages"][0]["body"] == "hi"
    assert admin("GET", "/admin/chats")[1]["chats"] == []
    assert admin("POST", "/admin/incoming-webhooks/none-such/simulate", body=PAYLOAD)[0] == 404
    assert admin("POST", "/admin/incoming-webhooks/batch-chat/simulate", body="{bad")[0] == 400


def test_request_log_is_off_by_default_and_keeps_requests_with_their_outcome_when_on(aws_stack):
    put_spec()
    deliver()
    assert admin("GET", "/admin/incoming-webhooks/batch-chat/requests")[1]["requests"] == []
    put_spec({**SPEC, "log_requests": True})
    from chatbridge.repository import specs

    specs.forget_cached_specs()
    deliver()
    deliver({"kind": "other"})
    requests = admin("GET", "/admin/incoming-webhooks/batch-chat/requests")[1]["requests"]
    assert [(r["status"], r["outcome"]["status"]) for r in requests] == [(200, "ignored"), (200, "ok")]
    assert json.loads(requests[1]["body"]) == PAYLOAD and requests[0]["expires_at"] > requests[0]["received_at"]
    assert admin("GET", "/admin/incoming-webhooks/none-such/requests")[0] == 404


def test_chats_list_show_messages_and_close(aws_stack):
    put_spec()
    put_spec({**SPEC, "identifier": "second-one"})
    chat_id = deliver()[1]["chats"][0]
    other = deliver(identifier="second-one")[1]["chats"][0]
    assert {c["id"] for c in admin("GET", "/admin/chats")[1]["chats"]} == {chat_id, other}
    assert [c["id"] for c in admin("GET", "/admin/chats", query={"incoming": "batch-chat"})[1]["chats"]] == [chat_id]
    chat = admin("GET", f"/admin/chats/{chat_id}")[1]
    assert chat["nick"] == "Ana" and chat["status"] == "pending"
    messages = admin("GET", f"/admin/chats/{chat_id}/messages")[1]["messages"]
    assert [m["msg"] for m in messages] == ["hi"]
    status, closed = admin("POST", f"/admin/chats/{chat_id}/close")
    assert status == 200 and closed["status"] == "closed"
    assert [c["id"] for c in admin("GET", "/admin/chats", query={"status": "closed"})[1]["chats"]] == [chat_id]
    assert [c["id"] for c in admin("GET", "/admin/chats", query={"status": "pending"})[1]["chats"]] == [other]


@pytest.mark.parametrize("path", ["/admin/chats/999", "/admin/chats/abc", "/admin/chats/999/messages",
                                  "/admin/chats/abc/messages"])
def test_unknown_chats_are_404(aws_stack, path):
    assert admin("GET", path)[0] == 404


def test_bad_chat_filters_are_400_and_unknown_incoming_404(aws_stack):
    assert admin("GET", "/admin/chats", query={"status": "open"})[0] == 400
    assert admin("GET", "/admin/chats", query={"limit": "0"})[0] == 400
    assert admin("GET", "/admin/chats", query={"incoming": "nope"})[0] == 404
    assert admin("POST", "/admin/chats/5/close")[0] == 404


def test_storage_failure_is_503(aws_stack):
    import os

    import boto3

    boto3.client("dynamodb").delete_table(TableName=os.environ["CONFIG_TABLE"])
    status, body = admin("GET", "/admin/incoming-webhooks")
    assert status == 503 and "Traceback" not in json.dumps(body)


REPLAYED_ELSEWHERE = {"evaluator_operator_message.json", "dispatcher_job.json"}  # tests/test_reply_events.py


def test_every_sample_event_in_events_works_with_its_handler(aws_stack):
    """events/ are `sam local invoke` ready; in order they set up a spec, deliver, read it back and follow a
    media link (``stored_file``: the object the ingest would have stored for it)."""
    import os

    import boto3

    from chatbridge.repository import media as media_store

    media_store.forget_clients()
    boto3.client("s3").create_bucket(Bucket=os.environ["MEDIA_BUCKET"])
    handlers = {"ingest": ingest_app, "admin": admin_app, "media": load_handler("media")}
    order = json.loads((ROOT / "events" / "ingest_admin_order.json").read_text())
    replayed = {entry["file"] for entry in order} | REPLAYED_ELSEWHERE | {"ingest_admin_order.json"}
    assert replayed == {path.name for path in (ROOT / "events").glob("*.json")}, "add new events/ files to the order"
    for entry in order:
        if "stored_file" in entry:
            boto3.client("s3").put_object(Bucket=os.environ["MEDIA_BUCKET"], Key=entry["stored_file"], Body=b"\xff\xd8")
        event = json.loads((ROOT / "events" / entry["file"]).read_text())
        response = handlers[entry["function"]].lambda_handler(event, Context())
        assert response["statusCode"] == entry["status"], (entry["file"], response.get("body"))
        if entry["function"] == "media":
            location = (response.get("headers") or {}).get("Location") or response["multiValueHeaders"]["Location"][0]
            assert f"/{entry['stored_file']}?" in location and "X-Amz-Signature=" in location
    media_store.forget_clients()
