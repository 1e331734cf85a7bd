"""Integrations in a real browser: the spec editor's live preview and its field errors, Draft from
payload, and a preset applied from the form that then works end to end."""

from __future__ import annotations

import json
import time

import pytest

from support.console import call, console_url, screenshot

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect
pytestmark = pytest.mark.slow



TELEGRAM_UPDATE = {"update_id": 9001, "message": {
    "message_id": 41, "from": {"id": 7, "first_name": "Nic", "last_name": "Pottier"}, "chat": {"id": 7},
    "date": 1768848000, "text": "Hello from Telegram"}}


def test_the_list_shows_each_webhook_url_with_a_copy_button(page, stack):
    page.goto(console_url(stack, "#/integrations"))
    row = page.locator("tr[data-identifier='openwa-demo']")
    expect(row).to_contain_text(f"{stack.url}/webhooks/incoming/openwa-demo")
    row.get_by_role("button", name="Copy the webhook URL of WhatsApp (open-wa demo)").click()
    expect(page.get_by_role("status")).to_contain_text("/webhooks/incoming/openwa-demo")
    screenshot(page, "integrations")


def test_the_spec_editor_previews_as_you_type_and_puts_a_field_error_beside_the_spec(page, stack):
    page.goto(console_url(stack, "#/integrations/edit/openwa-demo"))
    spec_box = page.get_by_label("Spec (JSON)")
    expect(spec_box).not_to_have_value("")
    sample = {"id": "m-1", "body": "Preview me", "type": "chat", "t": 1768848000, "from": "447700900301@c.us",
              "fromMe": False, "sender": {"pushname": "Preview Pat"}}
    page.get_by_label("Sample payload").fill(json.dumps(sample))
    preview = page.get_by_role("region", name="Preview")
    expect(preview).to_contain_text("1 chat(s), 1 message(s), 0 skipped")
    expect(preview).to_contain_text("Preview me")
    expect(preview).to_contain_text("Preview Pat")
    screenshot(page, "spec-preview")

    page.get_by_label("Sample payload").fill(json.dumps({**sample, "type": "sticker"}))
    expect(preview).to_contain_text("Ignored")

    spec = json.loads(spec_box.input_value())
    spec["nick"] = "sender..pushname"
    spec_box.fill(json.dumps(spec, indent=2))
    error = page.locator("#spec-errors .field-error[data-field='nick']")
    expect(error).to_be_visible()
    expect(error).to_contain_text("line")
    expect(spec_box).to_have_attribute("aria-invalid", "true")
    screenshot(page, "spec-editor")
    # nothing was stored: the editor previews, it saves only on Save
    assert call(stack, "GET", "/admin/incoming-webhooks/openwa-demo")[1]["nick"] == "sender.pushname"


def test_draft_from_payload_opens_the_editor_with_a_spec_that_maps_the_sample(page, stack):
    page.goto(console_url(stack, "#/integrations"))
    page.get_by_role("textbox", name="Payload").fill(json.dumps(TELEGRAM_UPDATE))
    page.get_by_role("button", name="Draft a spec").click()
    expect(page.get_by_role("heading", name="New incoming webhook")).to_be_visible()
    spec = json.loads(page.get_by_label("Spec (JSON)").input_value())
    assert (spec["messages"], spec["chat_id"]) == ("message", "chat.id")
    preview = page.get_by_role("region", name="Preview")
    expect(preview).to_contain_text("Hello from Telegram")
    expect(preview).to_contain_text("Nic Pottier")


def test_a_preset_applied_from_the_form_receives_a_message_and_sends_the_reply(page, stack, third_party):
    page.goto(console_url(stack, "#/integrations"))
    page.get_by_label("Preset", exact=True).select_option("telegram")
    expect(page.locator("label.required", has_text="secret")).to_be_visible()
    page.get_by_label("Identifier").fill("console-telegram")
    page.get_by_label("secret", exact=True).fill("a-long-random-string-0123")
    page.get_by_label("base_url").fill(third_party.url_for("").rstrip("/"))
    page.get_by_role("button", name="Apply preset").click()
    result = page.get_by_role("region", name="Preset result")
    expect(result).to_contain_text(f"{stack.url}/webhooks/incoming/console-telegram")
    secret_input = result.get_by_label("/chatbridge/console-telegram/token")
    secret_input.fill("123:ABC")
    result.get_by_role("button", name="Store secret").click()
    expect(result).to_contain_text("stored")
    screenshot(page, "preset-applied")

    third_party.expect_request("/bot123:ABC/sendMessage").respond_with_json({"ok": True, "result": {}})
    status, answer = _post_signed(stack)
    assert status == 200 and answer["status"] == "ok", answer
    page.goto(console_url(stack, "#/chats"))
    page.locator("#chat-list .chat-row", has_text="Nic Pottier").locator("a").click()
    reply = page.get_by_label("Reply")
    reply.fill("Hi Nic")
    reply.press("Enter")
    expect(page.get_by_role("log").locator("li.message.operator", has_text="Hi Nic").locator(".delivery-sent")).to_be_visible()
    sent = [json.loads(request.get_data(as_text=True)) for request, _ in third_party.log
            if request.path == "/bot123:ABC/sendMessage"]
    assert sent and sent[-1]["text"] == "Hi Nic" and str(sent[-1]["chat_id"]) == "7"


def _post_signed(stack):
    import urllib.request

    request = urllib.request.Request(f"{stack.url}/webhooks/incoming/console-telegram",
                                     data=json.dumps({**TELEGRAM_UPDATE, "update_id": int(time.time())}).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "X-Telegram-Bot-Api-Secret-Token": "a-long-random-string-0123"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_a_webhook_url_with_a_secret_in_its_query_is_shown_masked_and_copied_whole(page, stack):
    secret = "masked-in-the-list-0123456789"
    status, answer = call(stack, "POST", "/admin/presets/open-wa/apply", {
        "identifier": "list-openwa", "values": {"base_url": "https://wa.example.com", "secret": secret}, "replace": True})
    assert status == 200, answer
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
    page.goto(console_url(stack, "#/integrations"))
    row = page.locator("tr[data-identifier='list-openwa']")
    expect(row.locator("code.url")).to_have_text(f"{stack.url}/webhooks/incoming/list-openwa?secret=••••••••")
    expect(row).not_to_contain_text(secret)
    row.get_by_role("button", name="Copy the webhook URL of WhatsApp (open-wa)").click()
    expect(page.get_by_role("status")).to_contain_text("its secret included")
    expect(page.get_by_role("status")).not_to_contain_text(secret)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == answer["webhook_url"] == f"{stack.url}/webhooks/incoming/list-openwa?secret={secret}"
    # the URL really is the one the provider must call: without the query the webhook is refused
    assert call(stack, "POST", "/webhooks/incoming/list-openwa", {"from": "1@c.us"})[0] == 401
    message = {"id": "m-list-1", "body": "via the copied URL", "type": "chat", "t": int(time.time()),
               "from": "447700900401@c.us", "fromMe": False, "sender": {"pushname": "Copy Cat"}}
    status, posted = call(stack, "POST", copied[len(stack.url):], message)
    assert status == 200 and posted["status"] == "ok", posted
    screenshot(page, "integrations")
