"""The admin API the console polls and acts through, on moto via the template's real handlers: the chat
list's cursor, message changes that move a cursor, and an operator's Retry that really re-sends."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import boto3
import pytest

from chatbridge.local.seed import OPENWA_SPEC
from support.local_stack import loopback_server
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


def test_chats_count_their_visitor_messages_apart_from_operator_replies(api):
    chat = post_message(api, "447700900004", "one")
    assert http(api, "POST", f"/admin/chats/{chat}/messages", {"msg": "an answer", "user_id": 3})[0] in (200, 201)
    post_message(api, "447700900004", "two")
    listed = next(c for c in http(api, "GET", "/admin/chats")[1]["chats"] if c["id"] == chat)
    assert (listed["last_message_id"], listed["visitor_messages"]) == (3, 2)
    assert http(api, "GET", f"/admin/chats/{chat}")[1]["visitor_messages"] == 2


def test_chats_of_a_deleted_spec_are_still_listed_across_all_specs_and_marked(api):
    kept = post_message(api, "447700900005", "still here")
    doomed = {**OPENWA_SPEC, "identifier": "doomed-shop", "name": "Doomed shop"}
    assert http(api, "PUT", "/admin/incoming-webhooks/doomed-shop", doomed)[0] == 201
    status, answer = http(api, "POST", "/webhooks/incoming/doomed-shop?output=json", {
        "id": "doomed-1", "body": "hello", "type": "chat", "t": 1768848000, "from": "447700900006@c.us",
        "fromMe": False, "sender": {"pushname": "Dora"}})
    assert status == 200, answer
    orphan = answer["chats"][0]
    assert http(api, "DELETE", "/admin/incoming-webhooks/doomed-shop")[0] == 200
    listed = {c["id"]: c for c in http(api, "GET", "/admin/chats")[1]["chats"]}
    assert listed[orphan]["incoming_deleted"] is True and listed[kept]["incoming_deleted"] is False
    assert listed[orphan]["incoming_chat"]["incoming"]["name"] == "Doomed shop"
    assert [c["id"] for c in http(api, "GET", "/admin/chats?updated_after=1")[1]["chats"]].count(orphan) == 1
    assert http(api, "GET", f"/admin/chats/{orphan}")[1]["incoming_deleted"] is True
    assert http(api, "GET", f"/admin/chats/{kept}")[1]["incoming_deleted"] is False
    assert http(api, "GET", "/admin/chats?incoming=doomed-shop")[0] == 404


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
    with loopback_server() as server:
        yield server


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


# -- the spec editor's preview, Draft from payload, presets from a form ------------------------------

SAMPLE = {"id": "m-1", "body": "Preview me", "type": "chat", "t": 1768848000, "from": "447700900301@c.us",
          "fromMe": False, "sender": {"pushname": "Pat"}}


def test_a_preview_maps_the_sample_with_a_spec_that_is_not_stored(api):
    spec = {**OPENWA_SPEC, "identifier": "not-stored-yet"}
    status, body = http(api, "POST", "/admin/spec-previews", {"spec": spec, "payload": SAMPLE})
    assert status == 200 and body["dry_run"] is True and body["accepted"] is True
    assert [(c["nick"], [m["body"] for m in c["messages"]]) for c in body["chats"]] == [("Pat", ["Preview me"])]
    assert http(api, "GET", "/admin/incoming-webhooks/not-stored-yet")[0] == 404
    batch = {"spec": {**spec, "conditions": ""}, "payload": [SAMPLE, {**SAMPLE, "id": "m-2", "type": "image"}]}
    skipped = http(api, "POST", "/admin/spec-previews", batch)  # an image without a caption renders empty
    assert skipped[1]["skipped"] and skipped[1]["skipped"][0]["reason"]


def test_a_preview_of_an_invalid_spec_is_422_naming_the_field(api):
    status, body = http(api, "POST", "/admin/spec-previews",
                        {"spec": {**OPENWA_SPEC, "nick": "sender..pushname"}, "payload": SAMPLE})
    assert status == 422 and [e["field"] for e in body["errors"]] == ["nick"]


def test_a_preview_reads_a_raw_form_body_as_the_webhook_route_does(api):
    spec = {"identifier": "sms-in", "name": "SMS", "chat_id": "From", "text": {"conditions": "", "body": "{{msg.Body}}"}}
    status, body = http(api, "POST", "/admin/spec-previews", {
        "spec": spec, "body": "From=%2B14133881111&Body=Hi+there", "content_type": "application/x-www-form-urlencoded"})
    assert status == 200 and body["chats"][0]["messages"][0]["body"] == "Hi there"


@pytest.mark.parametrize("request_body, status", [({"payload": SAMPLE}, 400), ({"spec": [1]}, 400),
                                                  ({"spec": OPENWA_SPEC, "body": 5}, 400),
                                                  ({"spec": OPENWA_SPEC, "body": "{nope"}, 400)])
def test_a_preview_without_a_spec_object_or_with_an_unreadable_sample_is_400(api, request_body, status):
    code, body = http(api, "POST", "/admin/spec-previews", request_body)
    assert code == status and body["reason"]


def test_draft_from_payload_proposes_a_spec_and_shows_what_it_makes_of_the_sample(api):
    update = {"update_id": 1, "message": {"message_id": 41, "from": {"id": 7, "first_name": "Nic"},
                                          "chat": {"id": 7}, "date": 1768848000, "text": "Hello"}}
    status, body = http(api, "POST", "/admin/spec-drafts", {"payload": update, "identifier": "tg-draft"})
    assert status == 200
    assert (body["spec"]["identifier"], body["spec"]["messages"], body["spec"]["chat_id"]) == ("tg-draft", "message", "chat.id")
    assert body["preview"]["chats"][0]["messages"][0]["body"] == "Hello" and body["notes"]
    assert http(api, "PUT", "/admin/incoming-webhooks/tg-draft", body["spec"])[0] == 201


@pytest.mark.parametrize("request_body, status", [({}, 400), ({"payload": SAMPLE, "identifier": 5}, 400),
                                                  ({"payload": SAMPLE, "identifier": "a b"}, 422)])
def test_a_draft_without_a_payload_or_with_a_bad_identifier_is_4xx_with_a_reason(api, request_body, status):
    code, body = http(api, "POST", "/admin/spec-drafts", request_body)
    assert code == status and body["reason"]


def test_presets_are_listed_with_their_parameters_required_ones_and_secrets_marked(api):
    presets = {p["name"]: p for p in http(api, "GET", "/admin/presets")[1]["presets"]}
    telegram = {p["name"]: p for p in presets["telegram"]["parameters"]}
    assert telegram["secret"]["required"] is True and telegram["token"]["secret"] is True
    assert {"open-wa", "whatsapp-cloud", "telegram", "twilio", "viber", "messenger"} <= set(presets)


def test_applying_a_preset_stores_its_three_objects_and_names_the_secrets_to_create(api):
    status, body = http(api, "POST", "/admin/presets/telegram/apply", {
        "identifier": "tg-bot", "values": {"secret": "a-long-random-string"}, "webhook_base": "https://api.example.com/Prod"})
    assert status == 200 and body["webhook_url"] == "https://api.example.com/Prod/webhooks/incoming/tg-bot"
    assert [s["name"] for s in body["secrets"]] == ["/chatbridge/tg-bot/token"]
    assert http(api, "GET", "/admin/incoming-webhooks/tg-bot")[1]["preset"] == "telegram"
    assert http(api, "GET", "/admin/rest-apis/tg-bot-send")[0] == 200
    webhook = http(api, "GET", "/admin/webhooks/tg-bot-replies")[1]
    # the text reply; files go through the preset's file webhooks
    assert webhook["conditions"] == [f"{{args.chat.iwh_id}} = {body['incoming_webhook_id']}", "{args.file.url} empty"]
    again = http(api, "POST", "/admin/presets/telegram/apply", {"identifier": "tg-bot", "values": {"secret": "another-secret-1"}})
    assert again[0] == 200  # the same preset may change its own spec


def test_a_preset_refuses_to_take_over_a_spec_it_did_not_make_unless_told(api):
    status, body = http(api, "POST", "/admin/presets/telegram/apply",
                        {"identifier": "openwa-demo", "values": {"secret": "a-long-random-string"}})
    assert status == 409 and "by hand" in body["reason"]
    assert http(api, "GET", "/admin/incoming-webhooks/openwa-demo")[1]["preset"] is None
    assert http(api, "POST", "/admin/presets/telegram/apply", {
        "identifier": "openwa-demo", "values": {"secret": "a-long-random-string"}, "replace": True})[0] == 200


@pytest.mark.parametrize("path, request_body, status", [
    ("/admin/presets/nope/apply", {"identifier": "abcd"}, 404),
    ("/admin/presets/telegram/apply", {"identifier": "tg-x"}, 422),                       # secret is required
    ("/admin/presets/telegram/apply", {"identifier": "tg-x", "values": {"nope": "1", "secret": "abc"}}, 422),
    ("/admin/presets/telegram/apply", {"identifier": "x", "values": {"secret": "abc"}}, 422),
    ("/admin/presets/telegram/apply", {"identifier": "tg-x", "extra": 1}, 422),
    ("/admin/presets/telegram/apply", {"identifier": "tg-x", "webhook_base": "ftp://x"}, 422),
    ("/admin/presets/telegram/apply", [1], 400),
])
def test_a_preset_asked_wrongly_is_4xx_naming_what_is_wrong(api, path, request_body, status):
    code, body = http(api, "POST", path, request_body)
    assert code == status and body["reason"]
