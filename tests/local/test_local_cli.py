"""Operator commands against a real HTTP server standing in for the admin API."""

import argparse
import json

import pytest
from werkzeug import Response

from chatbridge.cli import chats, deliveries, reply, webhooks
from chatbridge.cli.client import ChatbridgeClient, is_loopback


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="chatbridge")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (webhooks, chats, reply, deliveries):
        module.register(commands)
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def api(httpserver):
    return httpserver


def test_apply_stores_rest_apis_then_specs_then_webhooks(api, tmp_path, capsys):
    spec_file = tmp_path / "setup.yaml"
    spec_file.write_text(
        "rest_apis:\n  - {id: echo, method: POST, url: 'https://example.test/send'}\n"
        "incoming_webhooks:\n  - {identifier: openwa-demo, name: WhatsApp, chat_id: from, text: [{body: '{{msg.body}}'}]}\n"
        "webhooks:\n  - {id: replies, event: chat.web_add_msg_admin, rest_api_id: echo}\n")
    api.expect_ordered_request("/admin/rest-apis/echo", method="PUT",
                               json={"id": "echo", "method": "POST", "url": "https://example.test/send"}).respond_with_json({"id": "echo"})
    api.expect_ordered_request("/admin/incoming-webhooks/openwa-demo", method="PUT",
                               json={"identifier": "openwa-demo", "name": "WhatsApp", "chat_id": "from",
                                     "text": [{"body": "{{msg.body}}"}]}).respond_with_json({"id": 1})
    api.expect_ordered_request("/admin/webhooks/replies", method="PUT",
                               json={"id": "replies", "event": "chat.web_add_msg_admin", "rest_api_id": "echo"}).respond_with_json({})
    assert run_cli("webhooks", "apply", "-f", str(spec_file), "--endpoint", api.url_for("")) == 0
    api.check_assertions()
    out = capsys.readouterr().out
    assert "applied incoming webhook openwa-demo" in out
    assert "/webhooks/incoming/openwa-demo" in out


def test_apply_of_a_spec_the_api_refuses_exits_1_with_the_api_reason(api, tmp_path, capsys):
    """A file that passes the CLI's own check can still be refused (an older or newer server)."""
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"identifier": "shop-1", "name": "Shop", "chat_id": "from",
                                     "text": [{"body": "{{msg.body}}"}]}))
    api.expect_request("/admin/incoming-webhooks/shop-1", method="PUT").respond_with_json(
        {"message": "identifier: must match [A-Za-z0-9_-]{4,64}"}, status=422)
    assert run_cli("webhooks", "apply", "-f", str(spec_file), "--endpoint", api.url_for("")) == 1
    assert "error (HTTP 422): identifier: must match" in capsys.readouterr().err


def test_unreadable_file_is_a_usage_error(tmp_path, capsys):
    broken = tmp_path / "spec.json"
    broken.write_text("{not json")
    assert run_cli("webhooks", "apply", "-f", str(broken)) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    assert run_cli("webhooks", "apply", "-f", str(tmp_path / "missing.yaml")) == 2


def test_unreachable_endpoint_says_so(capsys):
    assert run_cli("chats", "list", "--endpoint", "http://127.0.0.1:9") == 1
    assert "cannot reach http://127.0.0.1:9" in capsys.readouterr().err


CHAT = {"id": 7, "status": "pending", "nick": "Aisha", "phone": "447700900000", "updated_at": 1768848000,
        "incoming_chat": {"chat_external_id": "447700900000@c.us",
                          "incoming": {"id": 1, "identifier": "openwa-demo", "name": "WhatsApp", "scope": "whatsapp"}}}


def test_chats_list_prints_a_table_and_json_for_scripts(api, capsys):
    api.expect_request("/admin/chats", query_string={"status": "pending"}).respond_with_json({"chats": [CHAT]})
    assert run_cli("chats", "list", "--status", "pending", "--endpoint", api.url_for("")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "NICK", "PHONE", "INCOMING", "EXTERNAL", "ID", "UPDATED"]
    assert lines[1].split()[:5] == ["7", "pending", "Aisha", "447700900000", "openwa-demo"]
    api.expect_request("/admin/chats", query_string="").respond_with_json([CHAT])
    assert run_cli("chats", "list", "--json", "--endpoint", api.url_for("")) == 0
    assert json.loads(capsys.readouterr().out) == [CHAT]


def test_chats_show_prints_the_chat_and_its_messages(api, capsys):
    api.expect_request("/admin/chats/7").respond_with_json(CHAT)
    api.expect_request("/admin/chats/7/messages").respond_with_json({"messages": [
        {"id": 1, "user_id": 0, "kind": "text", "msg": "Hi, is my order ready?", "time": 1768848000},
        {"id": 2, "user_id": 3, "kind": "text", "msg": "Yes!", "delivery": "sent"}]})
    assert run_cli("chats", "show", "7", "--endpoint", api.url_for("")) == 0
    out = capsys.readouterr().out
    assert "chat 7  pending  Aisha" in out
    assert "visitor" in out and "operator 3" in out and "sent" in out


def test_reply_posts_the_operator_message(api, capsys):
    api.expect_request("/admin/chats/7/messages", method="POST",
                       json={"msg": "On its way \"soon\" 🚚", "user_id": 2}).respond_with_json(
        {"id": 3, "chat_id": 7, "delivery": "queued"}, status=201)
    assert run_cli("reply", "7", "On its way \"soon\" 🚚", "--user-id", "2", "--endpoint", api.url_for("")) == 0
    assert capsys.readouterr().out.strip() == "message 3 added to chat 7 (delivery: queued)"


def test_reply_to_unknown_chat_fails_with_the_reason(api, capsys):
    api.expect_request("/admin/chats/99/messages", method="POST").respond_with_json(
        {"message": "chat 99 not found"}, status=404)
    assert run_cli("reply", "99", "hello", "--endpoint", api.url_for("")) == 1
    assert "chat 99 not found" in capsys.readouterr().err


def test_deliveries_list_and_redrive(api, capsys):
    api.expect_request("/admin/deliveries", query_string={"chat_id": "7"}).respond_with_json({"deliveries": [
        {"id": "d1", "chat_id": 7, "message_id": 2, "status": "failed", "status_code": 500, "attempts": 5}]})
    api.expect_request("/admin/deliveries/redrive", method="POST").respond_with_json({"redriven": 1})
    assert run_cli("deliveries", "list", "--chat", "7", "--endpoint", api.url_for("")) == 0
    assert "failed" in capsys.readouterr().out
    assert run_cli("deliveries", "redrive", "--endpoint", api.url_for("")) == 0
    assert "redrove 1" in capsys.readouterr().out


def test_non_json_error_pages_still_give_a_reason(api, capsys):
    api.expect_request("/admin/chats").respond_with_response(Response("Bad Gateway", status=502))
    assert run_cli("chats", "list", "--endpoint", api.url_for("")) == 1
    assert "Bad Gateway" in capsys.readouterr().err


def test_only_aws_endpoints_are_signed_with_the_endpoint_region(monkeypatch):
    assert is_loopback("http://127.0.0.1:3000") and is_loopback("http://localhost:3000")
    assert not ChatbridgeClient("http://127.0.0.1:3000").sign
    assert not ChatbridgeClient("http://192.168.1.20:3000").sign  # a local stack started with --host
    assert ChatbridgeClient("https://chat-api.example.com").sign  # API Gateway custom domain
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    client = ChatbridgeClient("https://abc123.execute-api.eu-west-1.amazonaws.com/Prod")
    assert client.sign and client.region == "eu-west-1"
    headers = client._signed_headers("GET", client.endpoint + "/admin/chats", None, {"Accept": "application/json"})
    assert "eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert "X-Amz-Date" in headers
