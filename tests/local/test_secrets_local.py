"""``chatbridge secrets`` on ``chatbridge local`` as a user runs both: the real CLI in a subprocess against the
real template's stack, a reply whose REST API header reads ``{{ssm:...}}`` reaching a loopback server with the
value the CLI set, and ``--data`` keeping the secret across a restart. No value is ever printed."""

import json
import signal
import sqlite3
import subprocess
from urllib.parse import urlsplit

import pytest

from chatbridge.cli.client import ChatbridgeClient
from support.local_stack import CHATBRIDGE, LocalStackProcess, eventually, loopback_server
from support.paths import ROOT

pytestmark = pytest.mark.slow
NAME = "/chatbridge/loop-bot/api-key"
VALUE = "k3y-ab12cd34-never-printed"


@pytest.fixture(scope="module")
def third_party():
    with loopback_server() as server:
        yield server


def start(third_party, *args):
    return LocalStackProcess(*args, env={"CHATBRIDGE_OUTBOUND_ALLOW": urlsplit(third_party.url_for("/")).hostname})


def stop(running):
    """Ctrl-C and wait for the exit (saving ``--data`` happens on it); a loaded box may need minutes."""
    running.process.send_signal(signal.SIGINT)
    try:
        running.process.wait(timeout=180)
    except subprocess.TimeoutExpired:
        running.process.kill()  # never leave a stack behind (its workers follow their parent's pipe)
        raise
    running._pump.join(10)
    return running.process.returncode


@pytest.fixture(scope="module")
def stack(third_party):
    running = start(third_party)
    yield running
    assert stop(running) == 0, "".join(running.lines)


def secrets(stack, *args, stdin=None):
    return subprocess.run([str(CHATBRIDGE), "secrets", *args, "--endpoint", stack.url], input=stdin,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def reply_through(stack, third_party, identifier):
    """Store a REST API whose header is the SSM reference, a spec and an outgoing webhook; post a message,
    answer it as an operator; returns the request the third party received."""
    third_party.clear()
    third_party.expect_request(f"/{identifier}/send", method="POST").respond_with_json({"ok": True})
    client = ChatbridgeClient(stack.url)
    client.apply({
        "rest_apis": [{"id": f"{identifier}-send", "method": "POST", "url": third_party.url_for(f"/{identifier}/send"),
                       "headers": {"Content-Type": "application/json", "X-Api-Key": "{{ssm:" + NAME + "}}"},
                       "body": '{"to": {{args.chat.incoming_chat.chat_external_id}}, "text": {{msg_url}}}',
                       "timeout": 10}],
        "incoming_webhooks": [{"identifier": identifier, "name": "Loop", "chat_id": "chat", "message_id": "id",
                               "text": [{"body": "{{msg.text}}"}]}],
        "webhooks": [{"id": f"{identifier}-replies", "event": "chat.web_add_msg_admin",
                      "rest_api_id": f"{identifier}-send",
                      "conditions": [f"{{args.chat.incoming_chat.incoming.identifier}} = {identifier}"]}],
    })
    import urllib.request

    request = urllib.request.Request(f"{stack.url}/webhooks/incoming/{identifier}", method="POST",
                                     data=json.dumps({"chat": "c-1", "id": "m-1", "text": "hello"}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        chat_id = json.loads(answer.read())["chats"][0]
    client.reply(chat_id, "answer from the operator")
    eventually(lambda: len(third_party.log) > 0, timeout=60, stack=stack)
    return third_party.log[0][0]


def test_secrets_set_list_and_delete_through_the_cli_on_the_local_stack(stack, tmp_path):
    stored = secrets(stack, "set", NAME, VALUE)
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout.strip() == f"stored secret {NAME} (version 1)"
    value_file = tmp_path / "value"
    value_file.write_text("from-a-file\n")
    assert "(version 1)" in secrets(stack, "set", "/chatbridge/loop-bot/other", "--value-file", str(value_file)).stdout
    assert "(version 2)" in secrets(stack, "set", NAME, "-", stdin=VALUE + "\n").stdout

    table = secrets(stack, "list")
    assert table.returncode == 0
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0][:2] == ["NAME", "VERSION"]
    assert [row[:2] for row in rows[1:]] == [["/chatbridge/loop-bot/api-key", "2"], ["/chatbridge/loop-bot/other", "1"]]
    listed = json.loads(secrets(stack, "list", "--json").stdout)
    assert {entry["name"] for entry in listed} == {NAME, "/chatbridge/loop-bot/other"}
    for output in (stored.stdout, table.stdout, json.dumps(listed)):
        assert VALUE not in output and "from-a-file" not in output

    deleted = secrets(stack, "delete", "/chatbridge/loop-bot/other")
    assert deleted.returncode == 0 and "deleted secret /chatbridge/loop-bot/other" in deleted.stdout
    again = secrets(stack, "delete", "/chatbridge/loop-bot/other")
    assert again.returncode == 1 and "(HTTP 404)" in again.stderr
    assert [entry["name"] for entry in json.loads(secrets(stack, "list", "--json").stdout)] == [NAME]
    assert VALUE not in "".join(stack.lines)


def test_a_bad_secret_name_or_missing_value_is_refused_with_a_reason(stack):
    outside = secrets(stack, "set", "/elsewhere/token", "x")
    assert outside.returncode == 1 and "(HTTP 400)" in outside.stderr and "/chatbridge/" in outside.stderr
    blank = secrets(stack, "set", "/chatbridge/loop-bot/blank", "-", stdin="\n")
    assert blank.returncode == 1 and "(HTTP 422)" in blank.stderr and "value" in blank.stderr
    neither = secrets(stack, "set", "/chatbridge/loop-bot/x")
    assert neither.returncode == 2 and "--value-file" in neither.stderr


def test_a_reply_header_reads_the_secret_that_secrets_set_stored(stack, third_party):
    assert secrets(stack, "set", NAME, "-", stdin=VALUE).returncode == 0
    request = reply_through(stack, third_party, "loop-reply")
    assert request.headers["X-Api-Key"] == VALUE
    assert request.get_json() == {"to": "c-1", "text": "answer from the operator"}
    deliveries = ChatbridgeClient(stack.url).list_deliveries()
    assert VALUE not in json.dumps(deliveries)
    assert VALUE not in "".join(stack.lines)


def test_data_dir_keeps_a_secret_across_a_restart(third_party, tmp_path):
    first = start(third_party, "--data", str(tmp_path))
    assert secrets(first, "set", NAME, "-", stdin=VALUE).returncode == 0
    assert stop(first) == 0
    with sqlite3.connect(tmp_path / "chatbridge-local.sqlite3") as store:
        assert [name for (name,) in store.execute("SELECT name FROM parameters")] == [NAME]

    second = start(third_party, "--data", str(tmp_path))
    try:
        listed = json.loads(secrets(second, "list", "--json").stdout)
        assert [(entry["name"], entry["version"]) for entry in listed] == [(NAME, 1)]
        assert reply_through(second, third_party, "loop-restart").headers["X-Api-Key"] == VALUE
    finally:
        assert stop(second) == 0
    assert VALUE not in "".join(first.lines + second.lines)
