"""Acceptance: a Twilio round trip on the local stack, exactly as README's "Twilio on the local stack" does it.

`chatbridge local` runs in a subprocess; every step is the documented command (``presets apply``, ``secrets
set``, a form posted signed over the URL ``apply`` printed, ``chatbridge reply``), and the local echo endpoint
stands in for Twilio's Messages API. The reply must arrive ``To`` the visitor and ``From`` the number the
visitor wrote to: the value that once went out as ``"MISSING"``.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request

import pytest

from chatbridge.spec.verification import TwilioSignature, twilio_signature
from support.local_stack import CHATBRIDGE, LocalStackProcess, eventually
from support.paths import PAYLOADS, ROOT

pytestmark = pytest.mark.slow
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
BASIC_AUTH = "QUMwMTIzOmF1dGgtdG9rZW4="  # what the basic_auth secret holds: base64 of "<account_sid>:<auth_token>"


def cli(stack: LocalStackProcess, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([str(CHATBRIDGE), *args, "--endpoint", stack.url], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_twilio_reply_goes_out_from_the_number_the_visitor_wrote_to():
    stack = LocalStackProcess()
    try:
        printed = cli(stack, "presets", "apply", "twilio", "--identifier", "twilio-sms",
                      "--set", f"account_sid={ACCOUNT_SID}", "--set", f"auth_token={AUTH_TOKEN}",
                      "--set", f"base_url={stack.url}/_local/echo")
        webhook_url = f"{stack.url}/webhooks/incoming/twilio-sms"
        assert webhook_url in printed
        assert "chatbridge secrets set /chatbridge/twilio-sms/basic_auth" in printed
        cli(stack, "secrets", "set", "/chatbridge/twilio-sms/basic_auth", "-", stdin=BASIC_AUTH)

        form = (PAYLOADS / "twilio" / "courier_waReceiveValid.txt").read_bytes()
        signature = twilio_signature(TwilioSignature(auth_token=AUTH_TOKEN, url=webhook_url), form)
        request = urllib.request.Request(webhook_url, data=form, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
        with urllib.request.urlopen(request, timeout=60) as answer:
            [chat_id] = json.loads(answer.read())["chats"]

        cli(stack, "reply", str(chat_id), "Your order ships today")

        def twilio_request():
            with urllib.request.urlopen(f"{stack.url}/_local/echo", timeout=30) as answer:
                received = json.loads(answer.read())["received"]
            return next((entry for entry in received if entry["path"].endswith("/Messages.json")), None)

        sent = eventually(twilio_request, timeout=90, stack=stack)
        assert sent["method"] == "POST"
        assert sent["path"] == f"/_local/echo/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        assert sent["headers"]["Authorization"] == f"Basic {BASIC_AUTH}"
        assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        fields = urllib.parse.parse_qs(sent["body"], strict_parsing=True)
        assert fields.pop("StatusCallback") == [webhook_url]  # the reply's statuses come back as receipts
        assert fields == {
            "To": ["whatsapp:+14133881111"], "From": ["whatsapp:+12028831111"], "Body": ["Your order ships today"]}
        assert BASIC_AUTH not in "".join(stack.lines)  # the secret is sent, never logged
    finally:
        assert stack.stop() == 0
