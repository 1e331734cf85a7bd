"""The chat desk in a real browser: live list, chat view, reply with its delivery tick, close, shortcuts."""

from __future__ import annotations

import re
import time

import pytest

from support.console import call, console_url, echo_bodies, post_openwa, screenshot

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect
pytestmark = pytest.mark.slow



LIST_POLL_S = 5  # console/views/chats.js LIST_INTERVAL_MS


def _row(page, nick):
    return page.locator("#chat-list .chat-row", has_text=nick)


def test_the_console_page_is_served_beside_the_admin_api_and_says_the_local_stack_needs_no_login(stack):
    status, config = call(stack, "GET", "/console/config.json")
    assert (status, config) == (200, {"auth": "none", "local": True})


def test_a_posted_webhook_appears_in_the_list_within_the_poll_interval(page, stack):
    page.goto(console_url(stack, "#/chats"))
    expect(page.locator("#chat-list > li").first).to_be_visible()  # the first poll has answered
    post_openwa(stack, sender="447700900101", text="Is the shop open today?", nick="Priya")
    started = time.monotonic()
    expect(_row(page, "Priya")).to_be_visible(timeout=(LIST_POLL_S + 8) * 1000)
    assert time.monotonic() - started < LIST_POLL_S + 8
    expect(_row(page, "Priya")).to_contain_text("WhatsApp (open-wa demo)")
    expect(_row(page, "Priya")).to_contain_text("pending")


def test_a_reply_shows_at_once_reaches_the_third_party_and_gets_its_tick(page, stack):
    post_openwa(stack, sender="447700900102", text="Where is my parcel?", nick="Tomasz")
    page.goto(console_url(stack, "#/chats"))
    _row(page, "Tomasz").locator("a").click()
    log = page.get_by_role("log")
    expect(log).to_contain_text("Where is my parcel?")
    expect(log.locator("li.day").first).to_have_text("Today")
    expect(page.locator("#chat-title")).to_have_text("Tomasz")

    reply = page.get_by_label("Reply")
    reply.fill("It left the depot")
    reply.press("Shift+Enter")
    reply.type("this morning.")
    expect(reply).to_have_value("It left the depot\nthis morning.")
    reply.press("Enter")
    mine = log.locator("li.message.operator", has_text="It left the depot")
    expect(mine).to_be_visible(timeout=2000)  # at once, before any poll
    expect(reply).to_have_value("")
    expect(mine.locator(".delivery-sent")).to_be_visible()
    assert any("It left the depot\\nthis morning." in body for body in echo_bodies(stack))
    expect(page.locator("#chat-status")).to_have_text("active")
    page.get_by_text("Provider details").click()
    expect(page.locator(".details")).to_contain_text("447700900102@c.us")
    screenshot(page, "chat-view")


def test_images_and_files_in_a_message_are_links(page, stack):
    post_openwa(stack, sender="447700900107", nick="Media Mo",
                text="Receipt [file=https://files.example/media/1/receipt.pdf] and [img]https://files.example/p.jpg[/img]")
    page.goto(console_url(stack, "#/chats"))
    _row(page, "Media Mo").locator("a").click()
    log = page.get_by_role("log")
    expect(log.get_by_role("link", name="File: receipt.pdf")).to_have_attribute(
        "href", "https://files.example/media/1/receipt.pdf")
    expect(log.get_by_role("link", name="Image")).to_have_attribute("href", "https://files.example/p.jpg")


def test_unread_messages_are_counted_per_chat_and_in_the_tab_title(page, stack):
    post_openwa(stack, sender="447700900103", text="Hello?", nick="Unread Ula")
    page.goto(console_url(stack, "#/chats"))
    _row(page, "Unread Ula").locator("a").click()
    expect(page.get_by_role("log")).to_contain_text("Hello?")
    page.goto(console_url(stack, "#/chats"))
    page.reload()
    expect(_row(page, "Unread Ula")).to_be_visible()
    expect(_row(page, "Unread Ula").locator(".unread")).to_have_count(0)
    post_openwa(stack, sender="447700900103", text="Anyone there?", nick="Unread Ula")
    expect(_row(page, "Unread Ula").locator(".unread")).to_have_text("1")
    expect(page).to_have_title(re.compile(r"^\(\d+\) chatbridge console$"))
    screenshot(page, "chat-list")
    _row(page, "Unread Ula").locator("a").click()
    expect(page.get_by_role("log")).to_contain_text("Anyone there?")
    expect(_row(page, "Unread Ula").locator(".unread")).to_have_count(0)


def test_filters_keep_only_chats_of_that_status(page, stack):
    post_openwa(stack, sender="447700900104", text="Bye", nick="Closing Carla")
    page.goto(console_url(stack, "#/chats"))
    _row(page, "Closing Carla").locator("a").click()
    expect(page.get_by_role("log")).to_contain_text("Bye")
    page.keyboard.press("Alt+e")  # close shortcut
    expect(page.locator("#chat-status")).to_have_text("closed")
    expect(page.get_by_role("status")).to_contain_text("closed")
    page.get_by_label("Status").select_option("pending")
    expect(_row(page, "Closing Carla")).to_have_count(0)
    page.get_by_label("Status").select_option("closed")
    expect(_row(page, "Closing Carla")).to_be_visible()
    page.get_by_label("Status").select_option("")


def test_the_integration_filter_keeps_only_that_integrations_chats(page, stack):
    spec = call(stack, "GET", "/admin/incoming-webhooks/openwa-demo")[1]
    for field in ("id", "created_at", "updated_at", "webhook_path", "preset"):
        spec.pop(field, None)
    assert call(stack, "PUT", "/admin/incoming-webhooks/second-shop",
                {**spec, "identifier": "second-shop", "name": "Second shop", "scope": "shop2"})[0] == 201
    post_openwa(stack, sender="447700900108", text="From the second shop", nick="Second Sam", identifier="second-shop")
    post_openwa(stack, sender="447700900109", text="From the demo", nick="Demo Dora")
    page.goto(console_url(stack, "#/chats"))
    expect(_row(page, "Second Sam")).to_contain_text("Second shop · shop2")
    page.get_by_label("Integration").select_option("second-shop")
    expect(_row(page, "Demo Dora")).to_have_count(0)
    expect(_row(page, "Second Sam")).to_be_visible()
    page.get_by_label("Integration").select_option("")
    expect(_row(page, "Demo Dora")).to_be_visible()


def test_shortcuts_move_between_chats_focus_the_reply_and_open_the_help(page, stack):
    post_openwa(stack, sender="447700900105", text="one", nick="Kbd One")
    post_openwa(stack, sender="447700900106", text="two", nick="Kbd Two")
    page.goto(console_url(stack, "#/chats"))
    expect(_row(page, "Kbd Two")).to_be_visible()
    page.keyboard.press("Alt+j")
    expect(page.locator("#chat-list a[aria-current='true']")).to_have_count(1)
    first = page.locator("#chat-list a[aria-current='true']").get_attribute("href")
    page.keyboard.press("Alt+j")
    expect(page.locator("#chat-list a[aria-current='true']")).not_to_have_attribute("href", first)
    page.keyboard.press("Alt+k")
    expect(page.locator("#chat-list a[aria-current='true']")).to_have_attribute("href", first)
    page.keyboard.press("Alt+r")
    expect(page.get_by_label("Reply")).to_be_focused()
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    screenshot(page, "shortcuts")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
