"""The admin API the console polls and acts through, on moto via the template's real handlers: the chat
list's cursor, message changes that move a cursor, and an operator's Retry that really re-sends."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import boto3
import pytest

from support.aws import aws_stack, template_api  # noqa: F401 - fixtures
from chatbridge.local.seed import OPENWA_SPEC
from support.pipeline import Pipeline


def http(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture
def api(template_api, monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")
    monkeypatch.setenv("MAX_ATTEMPTS", "6")
    assert http(template_api, "PUT", "/admin/incoming-webhooks/openwa-demo", OPENWA_SPEC)[0] == 201
    return template_api


def post_message(api, sender, text, nick="Aisha"):
    status, answer = http(api, "POST", "/webhooks/incoming/openwa-demo?output=json", {
        "id": f"false_{sender}_{text}", "body": text, "type": "chat", "t": 1768848000, "from": f"{sender}@c.us",
        "fromMe": False, "sender": {"pushname": nick}})
    assert status == 200, answer
    return answer["chats"][0]


def _set_updated_at(chat_id, value):
    boto3.resource("dynamodb").Table(os.environ["CHAT_TABLE"]).update_item(
        Key={"pk": f"CHAT#{chat_id}", "sk": "CHAT"}, UpdateExpression="SET updated_at = :t",
        ExpressionAttributeValues={":t": value})


def test_updated_after_lists_only_chats_changed_since_the_cursor_across_every_spec(api):
    old, new = post_message(api, "447700900001", "first"), post_message(api, "447700900002", "second")
    _set_updated_at(old, 1_000)
    _set_updated_at(new, 2_000)
    status, body = http(api, "GET", "/admin/chats?updated_after=1500")
    assert status == 200 and [chat["id"] for chat in body["chats"]] == [new]
    assert [chat["id"] for chat in http(api, "GET", "/admin/chats?updated_after=999")[1]["chats"]] == [new, old]
    assert http(api, "GET", "/admin/chats?updated_after=2000")[1]["chats"] == []
    assert http(api, "GET", "/admin/chats?incoming=openwa-demo&updated_after=1500")[1]["chats"][0]["id"] == new


def test_chats_carry_their_last_message_id_so_a_console_can_count_unread(api):
    chat = post_message(api, "447700900003", "one")
    post_message(api, "447700900003", "two")
    listed = http(api, "GET", "/admin/chats")[1]["chats"]
    assert [c["last_message_id"] for c in listed if c["id"] == chat] == [2]
    assert http(api, "GET", f"/admin/chats/{chat}")[1]["last_message_id"] == 2


@pytest.mark.parametrize("query", ["updated_after=yesterday", "updated_after=-5", "updated_after=1.5"])
def test_a_cursor_that_is_not_epoch_seconds_is_400_with_the_reason(api, query):
    status, body = http(api, "GET", f"/admin/chats?{query}")
    assert status == 400 and "updated_after" in body["reason"]


def test_changed_after_that_is_not_epoch_seconds_is_400(api):
    chat = post_message(api, "447700900004", "hello")
    status, body = http(api, "GET", f"/admin/chats/{chat}/messages?changed_after=soon")
    assert status == 400 and "changed_after" in body["reason"]


@pytest.fixture
def provider_server():
    """The provider's API: a server of its own (the template API's server answers every path)."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1")
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def refusing_provider(api, provider_server):
    """Replies of the demo spec go to this test server; it refuses with 400 until told otherwise."""
    httpserver = provider_server
    state = {"status": 400, "body": '{"error": "recipient unknown"}', "received": []}

    def handler(request):
        from werkzeug import Response
        state["received"].append(json.loads(request.get_data(as_text=True)))
        return Response(state["body"], status=state["status"], content_type="application/json")

    httpserver.expect_request("/send").respond_with_handler(handler)
    assert http(api, "PUT", "/admin/rest-apis/send", {
        "method": "POST", "url": httpserver.url_for("/send"), "headers": {"Content-Type": "application/json"},
        "body": '{"to": {{args.chat.id}}, "text": {{msg}}}', "success_codes": [200]})[0] == 201
    assert http(api, "PUT", "/admin/webhooks/replies", {
        "event": "chat.web_add_msg_admin", "rest_api_id": "send", "conditions": []})[0] == 201
    return state


def _pipeline():
    return Pipeline(os.environ["CHAT_TABLE"], os.environ["DISPATCH_QUEUE_URL"])


def test_retry_requeues_a_failed_reply_and_the_dispatcher_really_sends_it_once(api, refusing_provider):
    chat = post_message(api, "447700900005", "help")
    pipeline = _pipeline()
    message = http(api, "POST", f"/admin/chats/{chat}/messages", {"msg": "On its way", "user_id": 3})[1]["message"]
    pipeline.pump()
    failed = http(api, "GET", f"/admin/chats/{chat}/messages?after={message['id'] - 1}")[1]["messages"][0]
    assert failed["delivery"] == "failed" and failed["updated_at"] > 0
    delivery = http(api, "GET", f"/admin/deliveries?chat_id={chat}")[1]["deliveries"][0]
    assert (delivery["status"], delivery["status_code"]) == ("failed", 400)
    assert "recipient unknown" in delivery["response_excerpt"]

    refusing_provider.update(status=200, body='{"ok": true}')
    status, body = http(api, "POST", f"/admin/chats/{chat}/messages/{message['id']}/retry")
    assert status == 202 and body["status"] == "queued" and body["jobs"] == [delivery["id"]]
    assert body["message"]["delivery"] == "queued"
    assert http(api, "GET", f"/admin/deliveries?chat_id={chat}")[1]["deliveries"][0]["status"] == "queued"
    again = http(api, "POST", f"/admin/chats/{chat}/messages/{message['id']}/retry")
    assert again[0] == 409 and "no failed delivery" in again[1]["reason"]  # a double click queues it once

    pipeline.pump()
    changed = http(api, "GET", f"/admin/chats/{chat}/messages?changed_after={failed['updated_at'] - 1}")[1]["messages"]
    assert [(m["id"], m["delivery"]) for m in changed] == [(message["id"], "sent")]
    assert [r["text"] for r in refusing_provider["received"]] == ["On its way", "On its way"]
    assert http(api, "GET", f"/admin/deliveries?chat_id={chat}")[1]["deliveries"][0]["status"] == "sent"
    assert http(api, "POST", f"/admin/chats/{chat}/messages/{message['id']}/retry")[0] == 409


def test_a_retry_that_fails_again_shows_failed_with_the_new_reason(api, refusing_provider):
    chat = post_message(api, "447700900006", "help")
    pipeline = _pipeline()
    message = http(api, "POST", f"/admin/chats/{chat}/messages", {"msg": "Try this", "user_id": 3})[1]["message"]
    pipeline.pump()
    refusing_provider.update(status=404, body='{"error": "chat gone"}')
    assert http(api, "POST", f"/admin/chats/{chat}/messages/{message['id']}/retry")[0] == 202
    pipeline.pump()
    assert http(api, "GET", f"/admin/chats/{chat}")[1]["status"] == "active"
    stored = http(api, "GET", f"/admin/chats/{chat}/messages?after={message['id'] - 1}")[1]["messages"][0]
    assert stored["delivery"] == "failed"
    delivery = http(api, "GET", f"/admin/deliveries?chat_id={chat}")[1]["deliveries"][0]
    assert (delivery["status_code"], "chat gone" in delivery["response_excerpt"]) == (404, True)
    assert len(refusing_provider["received"]) == 2


@pytest.mark.parametrize("path, status", [("/admin/chats/999999/messages/1/retry", 404),
                                          ("/admin/chats/abc/messages/1/retry", 404),
                                          ("/admin/chats/{chat}/messages/99/retry", 404),
                                          ("/admin/chats/{chat}/messages/x/retry", 404),
                                          ("/admin/chats/{chat}/messages/1/retry", 409)])
def test_retry_of_no_such_message_is_404_and_of_a_message_with_nothing_failed_409(api, path, status):
    chat = post_message(api, "447700900007", "a visitor message, never a reply")
    code, body = http(api, "POST", path.format(chat=chat))
    assert code == status and body["reason"]
