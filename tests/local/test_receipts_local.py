"""Acceptance on the local stack: a WhatsApp Cloud reply reads ``delivered`` then ``read`` from Meta's statuses.

`chatbridge local` runs in a subprocess (its own API Gateway emulation, stream and queue pollers, real
handlers); every step is a documented command (``presets apply``, ``secrets set``, ``chatbridge reply``) or
what Meta does (a signed webhook). A loopback server stands in for the Graph API and answers the send call
with the message id pywa's status samples carry (../shared/payloads/SOURCES.md), so those very samples are
the receipts of the reply.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from urllib.parse import urlsplit

import pytest

from chatbridge.cli.client import ChatbridgeClient
from chatbridge.spec.verification import HmacSignature, sign
from support.local_stack import CHATBRIDGE, LocalStackProcess, eventually, loopback_server
from support.paths import PAYLOADS, ROOT

pytestmark = pytest.mark.slow
APP_SECRET = "0123456789abcdef0123456789abcdef"


def cli(stack: LocalStackProcess, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([str(CHATBRIDGE), *args, "--endpoint", stack.url], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def post_signed(url: str, body: bytes) -> dict:
    signature = sign(HmacSignature(header="X-Hub-Signature-256", secret=APP_SECRET, algorithm="sha256",
                                   encoding="hex", prefix="sha256="), body)
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def test_a_whatsapp_reply_reads_delivered_then_read_on_the_local_stack():
    with loopback_server() as graph:
        graph.expect_request("/v21.0/106540352242922/messages", method="POST").respond_with_json(
            {"messaging_product": "whatsapp", "messages": [{"id": "wamid.xyzxyz"}]})
        stack = LocalStackProcess(env={"CHATBRIDGE_OUTBOUND_ALLOW": urlsplit(graph.url_for("/")).hostname})
        try:
            cli(stack, "presets", "apply", "whatsapp-cloud", "--identifier", "wa-local",
                "--set", "phone_number_id=106540352242922", "--set", f"app_secret={APP_SECRET}",
                "--set", "verify_token=change-me", "--set", f"base_url={graph.url_for('/').rstrip('/')}")
            cli(stack, "secrets", "set", "/chatbridge/wa-local/token", "-", stdin="EAAG-local-token")
            webhook = f"{stack.url}/webhooks/incoming/wa-local"
            # courier's hello (pywa's text shares its id with pywa's statuses, which must name only the reply)
            [chat_id] = post_signed(webhook, (PAYLOADS / "whatsapp_cloud" / "courier_hello.json").read_bytes())["chats"]
            cli(stack, "reply", str(chat_id), "Your parcel is out for delivery")
            client = ChatbridgeClient(stack.url)

            def reply_in(state: str):
                messages = client.list_messages(chat_id)
                messages = messages if isinstance(messages, list) else messages["messages"]
                return next((m for m in messages if m["user_id"] > 0 and m.get("delivery") == state), None)

            sent = eventually(lambda: reply_in("sent") and reply_in("sent").get("provider_message_id"),
                              timeout=90, stack=stack)
            assert sent == "wamid.xyzxyz"
            assert json.loads(graph.log[0][0].get_data())["text"]["body"] == "Your parcel is out for delivery"
            for file, state in (("pywa_status_delivered.json", "delivered"), ("pywa_status_read.json", "read")):
                answer = post_signed(webhook, (PAYLOADS / "whatsapp_cloud" / file).read_bytes())
                assert answer["receipts"] == {"applied": 1, "unmatched": 0, "stale": 0}, answer
                assert eventually(lambda state=state: reply_in(state), timeout=30, stack=stack)
            shown = cli(stack, "chats", "show", str(chat_id))
            assert "read" in shown
            assert len(graph.log) == 1  # receipts never send anything
        finally:
            assert stack.stop() == 0, "".join(stack.lines)
