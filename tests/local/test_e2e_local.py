"""End to end: `chatbridge local --seed` as a subprocess, real payloads over HTTP, operator replies through
the API and the operator CLI, and a real HTTP server standing in for the third party.

This is the acceptance of the local stack: the printed curl creates a chat that `chatbridge chats list`
shows, a reply reaches the echo endpoint, all within a minute of start.
"""

import json
import subprocess
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from chatbridge.cli.client import ChatbridgeClient
from support.local_stack import CHATBRIDGE, LocalStackProcess, eventually, loopback_server
from support.paths import PAYLOADS, ROOT

pytestmark = [
    pytest.mark.slow,
    # The product's template.yaml (ingest issue) is what `chatbridge local` runs; without it there is no system.
    pytest.mark.skipif(not (ROOT / "template.yaml").exists(), reason="template.yaml is not in the tree yet"),
]


@pytest.fixture(scope="module")
def third_party():
    with loopback_server() as server:
        yield server


@pytest.fixture(scope="module")
def stack(third_party):
    allow = urlsplit(third_party.url_for("/")).hostname
    running = LocalStackProcess("--seed", env={"CHATBRIDGE_OUTBOUND_ALLOW": allow})
    yield running
    assert running.stop() == 0, "".join(running.lines)


def cli(stack, *args):
    result = subprocess.run([str(CHATBRIDGE), *args, "--endpoint", stack.url], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    return result


def run_curl(argv):
    """Do what the printed curl does (POST URL -H header -d body), without needing curl installed."""
    url = next(arg for arg in argv if arg.startswith("http"))
    body = argv[argv.index("-d") + 1]
    header = argv[argv.index("-H") + 1]
    name, value = header.split(":", 1)
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={name: value.strip()})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")


def echo_records(stack):
    with urllib.request.urlopen(stack.url + "/_local/echo", timeout=10) as response:
        return json.loads(response.read())["received"]


def test_printed_curl_creates_a_chat_and_a_reply_reaches_the_echo_endpoint_within_a_minute(stack):
    status, answer = run_curl(stack.read_printed_curl())
    assert status == 200, answer
    listed = cli(stack, "chats", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    chats = json.loads(listed.stdout)
    chat = next(c for c in chats if c["incoming_chat"]["chat_external_id"] == "447700900000@c.us")
    assert chat["nick"] == "Aisha"
    table = cli(stack, "chats", "list")
    assert "Aisha" in table.stdout and "openwa-demo" in table.stdout

    replied = cli(stack, "reply", str(chat["id"]), "Your order is on its way")
    assert replied.returncode == 0, replied.stderr
    record = eventually(lambda: next((r for r in echo_records(stack)
                                      if (r["json"] or {}).get("body") == "Your order is on its way"), None))
    assert record["path"] == "/_local/echo/sendText"
    assert record["json"] == {"chatId": "447700900000@c.us", "body": "Your order is on its way"}
    assert time.monotonic() - stack.started < 60

    shown = cli(stack, "chats", "show", str(chat["id"]))
    assert "Hi, is my order ready?" in shown.stdout and "Your order is on its way" in shown.stdout


def _post(url, body, content_type):
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")


TWILIO_SPEC = {
    "identifier": "twilio-sms", "name": "Twilio SMS", "scope": "sms", "enabled": True, "messages": "",
    "chat_id": "From", "nick": "From", "phone": "From", "message_id": "MessageSid",
    "conditions": "SmsStatus=received", "text": [{"conditions": "", "body": "{{msg.Body}}"}],
}


@pytest.fixture
def fresh_stack(third_party):
    running = LocalStackProcess("--seed", env={"CHATBRIDGE_OUTBOUND_ALLOW": urlsplit(third_party.url_for("/")).hostname})
    yield running
    assert running.stop() == 0, "".join(running.lines)


def test_real_payloads_then_operator_reply_reaches_the_third_party(fresh_stack, third_party):
    stack = fresh_stack
    client = ChatbridgeClient(stack.url)
    client.apply({
        "rest_apis": [{"id": "twilio-send", "method": "POST", "url": third_party.url_for("/2010-04-01/Messages.json"),
                       "headers": {"Content-Type": "application/json"},
                       "body": '{"To": {{args.chat.incoming_chat.chat_external_id}}, "Body": {{msg}}}',
                       "timeout": 10, "success_codes": [201]}],
        "incoming_webhooks": [TWILIO_SPEC],
        "webhooks": [{"id": "twilio-replies", "event": "chat.web_add_msg_admin",
                      "conditions": ["{args.chat.incoming_chat.incoming.identifier} = twilio-sms"],
                      "rest_api_id": "twilio-send", "enabled": True}],
    })
    form = (PAYLOADS / "twilio" / "courier_receiveValid.txt").read_bytes().strip()
    status, _ = _post(f"{stack.url}/webhooks/incoming/twilio-sms", form, "application/x-www-form-urlencoded")
    assert status == 200
    # A provider retry (same MessageSid) is not repeated here: on moto a refused transaction rolls the table
    # back to a copy, which can reuse stream sequence numbers the poller already passed (the ingest tests
    # prove duplicates on their own).
    for name in ("openwa_v5docs_incoming_image.json", "openwa_v5docs_outgoing_group_fromMe.json"):
        body = (PAYLOADS / "openwa" / name).read_bytes()
        assert _post(f"{stack.url}/webhooks/incoming/openwa-demo", body, "application/json")[0] == 200

    chats = client.list_chats(incoming="twilio-sms")
    chats = chats if isinstance(chats, list) else chats.get("chats", chats.get("items", []))
    (chat,) = [c for c in chats if c["incoming_chat"]["chat_external_id"] == "+14133881111"]
    messages = client.list_messages(chat["id"])
    messages = messages if isinstance(messages, list) else messages.get("messages", messages.get("items", []))
    assert [m["msg"] for m in messages] == ["Msg"]

    third_party.expect_request("/2010-04-01/Messages.json", method="POST").respond_with_json({"sid": "SM1"}, status=201)
    reply = 'Quotes " and \\ and </script> and emoji 🚚\nsecond line'
    client.reply(chat["id"], reply, user_id=4)
    eventually(lambda: len(third_party.log) > 0, stack=stack)
    request, _ = third_party.log[0]
    assert request.get_json() == {"To": "+14133881111", "Body": reply}
    delivered = eventually(lambda: [d for d in _deliveries(client, chat["id"]) if d.get("status") == "sent"])
    assert delivered
    listed = cli(stack, "deliveries", "list", "--chat", str(chat["id"]))
    assert listed.returncode == 0 and "sent" in listed.stdout


def _deliveries(client, chat_id):
    answer = client.list_deliveries(chat_id=chat_id)
    return answer if isinstance(answer, list) else answer.get("deliveries", answer.get("items", []))


def test_operator_cli_reports_api_errors_with_a_non_zero_exit(stack):
    result = cli(stack, "chats", "show", "999999")
    assert result.returncode == 1
    assert "404" in result.stderr
