"""A third party that refuses a reply: the console shows failed with the delivery's reason, and Retry
re-sends that one reply for real (once), after which it shows sent."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response

from support.console import call, console_url, post_openwa, screenshot

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect
pytestmark = pytest.mark.slow



IDENTIFIER = "flaky-shop"


@pytest.fixture(scope="module")
def flaky_provider(stack, third_party):
    """An integration whose replies go to the test's HTTP server, which answers as the test says."""
    answers = {"status": 400, "body": json.dumps({"error": "recipient 447700900201 is not on WhatsApp"})}
    received: list[dict] = []

    def handler(request):
        received.append(json.loads(request.get_data(as_text=True)))
        return Response(answers["body"], status=answers["status"], content_type="application/json")

    third_party.expect_request("/send").respond_with_handler(handler)
    spec = call(stack, "GET", "/admin/incoming-webhooks/openwa-demo")[1]
    for field in ("id", "created_at", "updated_at", "webhook_path", "preset"):
        spec.pop(field, None)
    assert call(stack, "PUT", f"/admin/incoming-webhooks/{IDENTIFIER}",
                {**spec, "identifier": IDENTIFIER, "name": "Flaky shop"})[0] == 201
    assert call(stack, "PUT", "/admin/rest-apis/flaky-send", {
        "name": "flaky send", "method": "POST", "url": third_party.url_for("/send"),
        "headers": {"Content-Type": "application/json"}, "body": '{"to": {{args.chat.id}}, "text": {{msg}}}',
        "timeout": 5, "success_codes": [200]})[0] in (200, 201)
    assert call(stack, "PUT", "/admin/webhooks/flaky-replies", {
        "event": "chat.web_add_msg_admin", "rest_api_id": "flaky-send", "enabled": True,
        "conditions": [f"{{args.chat.incoming_chat.incoming.identifier}} = {IDENTIFIER}"]})[0] in (200, 201)
    return answers, received


def test_a_refused_reply_shows_failed_with_the_reason_and_retry_sends_it_once(page, stack, flaky_provider):
    answers, received = flaky_provider
    post_openwa(stack, sender="447700900201", text="Can I change my address?", nick="Farah", identifier=IDENTIFIER)
    page.goto(console_url(stack, "#/chats"))
    page.locator("#chat-list .chat-row", has_text="Farah").locator("a").click()
    reply = page.get_by_label("Reply")
    reply.fill("Yes, send it to us")
    reply.press("Enter")
    mine = page.get_by_role("log").locator("li.message.operator", has_text="Yes, send it to us")
    failed = mine.locator(".delivery-failed")
    expect(failed).to_be_visible()
    expect(failed).to_contain_text("HTTP 400")
    expect(failed).to_contain_text("is not on WhatsApp")
    screenshot(page, "delivery-failed")
    assert len(received) == 1

    answers.update(status=200, body=json.dumps({"ok": True}))
    failed.get_by_role("button", name="Retry").click()
    expect(mine.locator(".delivery-sent")).to_be_visible()
    assert len(received) == 2 and received[1]["text"] == "Yes, send it to us"
    expect(mine.locator(".delivery-failed")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text(" sent")  # announced politely, not only drawn
