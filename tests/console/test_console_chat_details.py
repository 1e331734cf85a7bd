"""The chat desk's finer points in a real browser: unread counts count only what the visitor wrote, chats
of a deleted integration stay listed, and the message fields other parts of chatbridge add (receipts,
group authors, edits, reactions, messages sent from the business phone) show when a message has them.

Those message fields are not written by every server yet; their tests add them to the admin API's real
answers in the browser (``page.route``), which is also what proves the console needs nothing else."""

from __future__ import annotations

import json
import re
import time

import pytest

from support.console import call, console_url, post_openwa, screenshot

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect
pytestmark = pytest.mark.slow


def _row(page, nick):
    return page.locator("#chat-list .chat-row", has_text=nick)


def _chat_id(stack, nick):
    return next(chat["id"] for chat in call(stack, "GET", "/admin/chats")[1]["chats"] if chat["nick"] == nick)


def test_unread_counts_only_visitor_messages_not_replies_sent_from_another_browser(page, stack):
    post_openwa(stack, sender="447700900201", text="First question", nick="Counting Cleo")
    page.goto(console_url(stack, "#/chats"))
    _row(page, "Counting Cleo").locator("a").click()
    expect(page.get_by_role("log")).to_contain_text("First question")
    page.goto(console_url(stack, "#/chats"))
    chat_id = _chat_id(stack, "Counting Cleo")
    # another operator answers from another browser (or the CLI): the chat moves, nothing is unread
    for text in ("Answer one", "Answer two"):
        assert call(stack, "POST", f"/admin/chats/{chat_id}/messages", {"msg": text, "user_id": 2})[0] in (200, 201)
    page.reload()  # the first poll after it reads the chat with both answers in it
    expect(_row(page, "Counting Cleo")).to_be_visible()
    expect(_row(page, "Counting Cleo").locator(".unread")).to_have_count(0)
    expect(page).to_have_title("chatbridge console")
    post_openwa(stack, sender="447700900201", text="Thanks! And one more", nick="Counting Cleo")
    expect(_row(page, "Counting Cleo").locator(".unread")).to_have_text("1")
    expect(_row(page, "Counting Cleo").locator("a")).to_have_attribute("aria-label", re.compile(r", 1 unread$"))


def test_chats_of_a_deleted_integration_stay_listed_and_say_it_was_deleted(page, stack):
    spec = call(stack, "GET", "/admin/incoming-webhooks/openwa-demo")[1]
    for field in ("id", "created_at", "updated_at", "webhook_path", "preset"):
        spec.pop(field, None)
    assert call(stack, "PUT", "/admin/incoming-webhooks/closing-shop",
                {**spec, "identifier": "closing-shop", "name": "Closing shop"})[0] == 201
    post_openwa(stack, sender="447700900202", text="Are you closing down?", nick="Deleted Dana",
                identifier="closing-shop")
    assert call(stack, "DELETE", "/admin/incoming-webhooks/closing-shop")[0] == 200
    page.goto(console_url(stack, "#/chats"))
    row = _row(page, "Deleted Dana")
    expect(row).to_contain_text("Closing shop (deleted)")
    expect(row.locator("a")).to_have_attribute("aria-label", re.compile("Closing shop \\(deleted\\)"))
    row.locator("a").click()
    expect(page.get_by_role("log")).to_contain_text("Are you closing down?")
    page.get_by_text("Provider details").click()
    expect(page.locator(".details")).to_contain_text("Closing shop (closing-shop), deleted")
    # the open chat's own poll keeps saying so, and closing it still works
    page.get_by_role("button", name="Close chat").click()
    expect(page.locator("#chat-status")).to_have_text("closed")
    expect(row).to_contain_text("(deleted)")


class MessageFields:
    """Adds fields to the messages the admin API answers, as a server that writes them would."""

    def __init__(self, page):
        self.seen: dict[tuple[int, int], dict] = {}
        self.changes: dict[tuple[int, int], dict] = {}
        self.extra: dict[int, list[dict]] = {}
        page.route(re.compile(r".*/admin/chats/\d+/messages(\?.*)?$"), self._messages)

    def _messages(self, route):
        if route.request.method != "GET":
            route.continue_()
            return
        response = route.fetch()
        body = response.json()
        chat_id = int(re.search(r"/chats/(\d+)/messages", route.request.url).group(1))
        messages = {message["id"]: message for message in body["messages"]}
        for message in messages.values():
            self.seen[(chat_id, message["id"])] = message
        for (chat, message_id), fields in self.changes.items():
            if chat == chat_id and (chat, message_id) in self.seen:
                messages[message_id] = {**self.seen[(chat, message_id)], **messages.get(message_id, {}), **fields}
        for message in self.extra.get(chat_id, []):
            messages.setdefault(message["id"], message)
        body["messages"] = sorted(messages.values(), key=lambda message: message["id"])
        route.fulfill(response=response, body=json.dumps(body))


def test_a_reply_shows_delivered_then_read_ticks_from_the_providers_receipts(page, stack):
    fields = MessageFields(page)
    post_openwa(stack, sender="447700900203", text="Did you get my order?", nick="Receipt Rae")
    page.goto(console_url(stack, "#/chats"))
    _row(page, "Receipt Rae").locator("a").click()
    log = page.get_by_role("log")
    expect(log).to_contain_text("Did you get my order?")
    reply = page.get_by_label("Reply")
    reply.fill("Yes, it ships today")
    reply.press("Enter")
    mine = log.locator("li.message.operator", has_text="Yes, it ships today")
    expect(mine.locator(".delivery-sent")).to_be_visible()
    expect(mine.locator(".delivery-sent .label")).to_have_text("Sent")
    chat_id, message_id = _chat_id(stack, "Receipt Rae"), int(mine.get_attribute("data-message-id"))

    fields.changes[(chat_id, message_id)] = {"delivery": "delivered", "updated_at": int(time.time()) + 1}
    expect(mine.locator(".delivery-delivered .label")).to_have_text("Delivered")
    expect(mine.locator(".delivery-delivered .icon")).to_have_text("✓✓")
    expect(page.get_by_role("status")).to_contain_text(f"Reply {message_id} delivered")
    fields.changes[(chat_id, message_id)] = {"delivery": "read", "updated_at": int(time.time()) + 2}
    expect(mine.locator(".delivery-read .label")).to_have_text("Read")
    expect(mine.locator(".delivery-read .icon")).to_have_text("✓✓")
    expect(page.get_by_role("status")).to_contain_text(f"Reply {message_id} read")
    read, delivered = (page.evaluate("s => getComputedStyle(document.querySelector(s)).color", selector)
                       for selector in (f"[data-message-id='{message_id}'] .delivery-read", "#chat-title"))
    assert read != delivered, "a read reply's ticks are highlighted"
    screenshot(page, "delivery-read")


def test_group_authors_edits_reactions_and_messages_sent_from_the_business_phone_show(page, stack):
    fields = MessageFields(page)
    post_openwa(stack, sender="447700900204", text="Who is bringing the cake?", nick="Party group")
    chat_id = _chat_id(stack, "Party group")
    first = call(stack, "GET", f"/admin/chats/{chat_id}/messages")[1]["messages"][0]
    now = int(time.time())
    fields.changes[(chat_id, first["id"])] = {
        "author": {"name": "Gina Group", "id": "447700900299@c.us"}, "edited_at": now - 30,
        "reactions": [{"reaction": "👍", "author": "Aisha", "time": now - 20},
                      {"reaction": "👍", "author": {"name": "Ben", "id": "b"}, "time": now - 10},
                      {"reaction": "🎂", "author": "Cleo", "time": now - 5}]}
    fields.extra[chat_id] = [{"id": first["id"] + 1, "chat_id": chat_id, "user_id": -2, "kind": "text",
                              "msg": "I will, from the shop", "time": now, "message_id": "phone-1",
                              "delivery": None, "name_support": "Shop phone"}]
    page.goto(console_url(stack, f"#/chats/{chat_id}"))
    log = page.get_by_role("log")
    visitor = log.locator("li.message.visitor", has_text="Who is bringing the cake?")
    expect(visitor.locator(".author")).to_have_text("Gina Group")
    expect(visitor.locator(".edited")).to_have_text("edited")
    reactions = visitor.get_by_role("list", name="Reactions")
    expect(reactions.locator("li")).to_have_count(2)
    expect(reactions.locator("li").first).to_have_attribute("aria-label", "👍 2: Aisha, Ben")
    expect(reactions.locator("li").first).to_have_text("👍 2")
    expect(reactions.locator("li").nth(1)).to_have_attribute("aria-label", "🎂 1: Cleo")
    phone = log.locator("li.message.operator", has_text="I will, from the shop")
    expect(phone.locator(".who")).to_have_text("Shop phone (from the provider side)")
    expect(phone.locator(".delivery")).to_have_count(0)  # not sent by chatbridge: nothing to track
    screenshot(page, "chat-details")


def test_a_message_without_the_new_fields_renders_as_before(page, stack):
    post_openwa(stack, sender="447700900205", text="Plain and simple", nick="Plain Pia")
    page.goto(console_url(stack, "#/chats"))
    _row(page, "Plain Pia").locator("a").click()
    message = page.get_by_role("log").locator("li.message.visitor", has_text="Plain and simple")
    expect(message.locator(".who")).to_have_text("Plain Pia")
    expect(message.locator(".author, .edited, .reactions")).to_have_count(0)
