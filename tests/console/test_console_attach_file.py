"""An operator attaches a file to a reply in the console, through the real admin API of the local stack: the file
is stored (inline), the reply carries it, the chat view shows it as a link named by the file, and the seeded
REST API (open-wa's ``sendText`` at the stack's echo endpoint) receives its link. A type operators may not send,
or a file over the size limit, sends nothing and shows the API's reason under the reply box."""

from __future__ import annotations

import re
import urllib.request

import pytest

from support.console import console_url, echo_bodies, post_openwa, screenshot

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect
pytestmark = pytest.mark.slow

PDF = b"%PDF-1.7\n" + b"0" * 1500


def _open_chat(page, stack, *, sender, nick, text):
    post_openwa(stack, sender=sender, text=text, nick=nick)
    page.goto(console_url(stack, "#/chats"))
    page.locator("#chat-list .chat-row", has_text=nick).locator("a").click()
    expect(page.get_by_role("log")).to_contain_text(text)


def test_an_attached_file_is_sent_with_the_reply_shown_by_name_and_reaches_the_third_party(page, stack):
    _open_chat(page, stack, sender="447700900201", nick="Attach Ana", text="Can you send the receipt?")
    page.get_by_label("Attach file").set_input_files({"name": "receipt.pdf", "mimeType": "application/pdf",
                                                      "buffer": PDF})
    expect(page.locator("#reply-attachment")).to_contain_text("Attached: receipt.pdf (1.5 kB)")
    page.get_by_label("Reply").fill("Here it is")
    page.get_by_label("Reply").press("Enter")
    log = page.get_by_role("log")
    mine = log.locator("li.message.operator", has_text="Here it is")
    link = mine.get_by_role("link", name="File: receipt.pdf")
    expect(link).to_have_attribute("href", re.compile(r"/media/\d+/[0-9a-f]{64}\.pdf$"))
    expect(mine.locator(".delivery-sent")).to_be_visible()
    expect(page.locator("#reply-attachment")).to_be_hidden()
    href = link.get_attribute("href")
    with urllib.request.urlopen(href, timeout=30) as answer:  # the stable link: 302 to the stored bytes
        assert answer.read() == PDF
    assert any(f"Here it is\\n{href}" in body for body in echo_bodies(stack))  # {{msg_url}}: the text and the link
    page.screenshot(path="/tmp/console-attach.png")
    screenshot(page, "chat-attach")

    page.get_by_label("Attach file").set_input_files({"name": "photo.png", "mimeType": "image/png",
                                                      "buffer": b"\x89PNG\r\n\x1a\n" + bytes(200)})
    page.get_by_role("button", name="Send").click()  # a file alone, without text
    expect(log.get_by_role("link", name="Image: photo.png")).to_be_visible()
    expect(log.locator("li.message.operator", has=page.get_by_role("link", name="Image: photo.png"))
           .locator(".delivery-sent")).to_be_visible()


def test_a_refused_type_sends_nothing_and_shows_the_apis_reason(page, stack):
    _open_chat(page, stack, sender="447700900202", nick="Refused Rui", text="Send me the page")
    page.get_by_label("Attach file").set_input_files({"name": "page.html", "mimeType": "text/html",
                                                      "buffer": b"<html><script>alert(1)</script></html>"})
    page.get_by_label("Reply").fill("The page")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "page.html was not sent: type: text/html is not a type operators may send")
    expect(page.get_by_label("Reply")).to_have_value("The page")  # nothing was sent: the text is kept
    expect(page.get_by_role("log").locator("li.message.operator")).to_have_count(0)
    page.screenshot(path="/tmp/console-attach-refused.png")
    screenshot(page, "chat-attach-refused")


def test_a_file_over_the_size_limit_is_refused_before_any_bytes_leave(page, stack, tmp_path):
    from chatbridge.media.uploads import MAX_FILE_BYTES

    big = tmp_path / "catalogue.pdf"
    with big.open("wb") as out:  # sparse: the browser reads only its size, the API refuses the size
        out.write(b"%PDF-1.7\n")
        out.truncate(MAX_FILE_BYTES + 1)
    _open_chat(page, stack, sender="447700900203", nick="Big Bo", text="The full catalogue?")
    page.get_by_label("Attach file").set_input_files(str(big))
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("catalogue.pdf was not sent: ")
    expect(page.get_by_role("alert")).to_contain_text(str(MAX_FILE_BYTES))
    expect(page.get_by_role("log").locator("li.message.operator")).to_have_count(0)


def test_a_file_over_4_mib_goes_by_the_presigned_put_with_the_headers_the_api_signed(browser, stack):
    """The presigned path as it runs on AWS, where the bucket's CorsRules (template.yaml) answer the browser's
    preflight and the CSP names S3. The local stack's S3 is moto on another port, which answers a preflight of a
    presigned URL 403, so here the page's context bypasses the CSP and the route answers the preflight as those
    CorsRules do; the PUT itself goes to moto with the page's headers."""
    from chatbridge.media.uploads import INLINE_MAX_BYTES

    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    puts = []

    def storage(route):
        request = route.request
        if request.method == "OPTIONS":
            route.fulfill(status=200, headers={"Access-Control-Allow-Origin": request.headers.get("origin", "*"),
                                               "Access-Control-Allow-Methods": "PUT",
                                               "Access-Control-Allow-Headers": request.headers.get(
                                                   "access-control-request-headers", "")})
            return
        puts.append((request.method, dict(request.headers)))
        answer = route.fetch()
        route.fulfill(response=answer, headers={**answer.headers, "Access-Control-Allow-Origin": "*"})

    try:
        page.route(lambda url: not url.startswith(stack.url), storage)
        _open_chat(page, stack, sender="447700900204", nick="Large Lu", text="The brochure please")
        brochure = b"%PDF-1.7\n" + b"5" * (INLINE_MAX_BYTES + 100)
        page.get_by_label("Attach file").set_input_files({"name": "brochure.pdf", "mimeType": "application/pdf",
                                                          "buffer": brochure})
        page.get_by_role("button", name="Send").click()
        mine = page.get_by_role("log").locator("li.message.operator", has=page.get_by_role("link",
                                                                                           name="File: brochure.pdf"))
        expect(mine.locator(".delivery-sent")).to_be_visible()
        [(method, headers)] = puts
        assert method == "PUT" and headers["content-type"] == "application/pdf"
        assert headers["x-amz-meta-chat-id"].isdigit()
        href = mine.get_by_role("link", name="File: brochure.pdf").get_attribute("href")
        with urllib.request.urlopen(href, timeout=60) as answer:
            assert answer.read() == brochure
    finally:
        context.close()
    assert errors == []
