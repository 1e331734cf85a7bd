"""The local admin API in a real browser: another site's page, and a DNS-rebinding name, cannot drive it
through the operator's browser, while the console on its own origin still can.

Chromium (Playwright, as the console's tests run it) against ``chatbridge local --seed``; the other site is
a loopback server on another port. Skips with the console tests' reason where no browser exists.
"""

import re

import pytest

from support.console import CHROMIUM, CHROMIUM_FLAGS, call, console_url, post_openwa
from support.local_stack import loopback_server

pytestmark = pytest.mark.slow

ATTACK_PAGE = """<!doctype html><title>cute cats</title><script>
const target = %(target)s;
Promise.allSettled([
  fetch(target + '/messages', {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'},
                               body: JSON.stringify({msg: 'no-cors text/plain', user_id: 1})}),
  fetch(target + '/messages', {method: 'POST', mode: 'no-cors',
                               headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                               body: JSON.stringify({msg: 'no-cors form', user_id: 1})}),
  fetch(target + '/messages', {method: 'POST', headers: {'Content-Type': 'application/json'},
                               body: JSON.stringify({msg: 'cors json', user_id: 1})}),
  fetch(target + '/close', {method: 'POST', mode: 'no-cors'}),
]).then(() => { document.title = 'done'; });
</script>"""

# text/plain form encoding sends name=value: here {"user_id": 1, "msg": "form text/plain="}, valid JSON
FORM_PAGE = """<!doctype html><title>win a prize</title>
<form method="post" enctype="text/plain" action=%(action)s>
<input name='{"user_id": 1, "msg": "form text/plain' value='"}'></form>
<script>document.forms[0].submit();</script>"""


def _operator_messages(stack, chat_id):
    return [m["msg"] for m in call(stack, "GET", f"/admin/chats/{chat_id}/messages")[1]["messages"] if m["user_id"]]


def test_another_sites_page_cannot_send_a_reply_or_close_a_chat_through_the_operators_browser(browser, console_stack):
    stack = console_stack
    chat_id = post_openwa(stack, sender="447700900123", text="Is my order ready?", nick="Ana")["chats"][0]
    target = f"{stack.url}/admin/chats/{chat_id}"
    with loopback_server() as other_site:
        other_site.expect_request("/cats").respond_with_data(ATTACK_PAGE % {"target": f'"{target}"'},
                                                             content_type="text/html")
        other_site.expect_request("/prize").respond_with_data(FORM_PAGE % {"action": f'"{target}/messages"'},
                                                              content_type="text/html")
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(other_site.url_for("/cats"))
            page.wait_for_function("document.title === 'done'")
            page.goto(other_site.url_for("/prize"))
            page.wait_for_url(re.compile(re.escape(f"{target}/messages")))
            refused = page.content()
            assert _operator_messages(stack, chat_id) == []
            assert '"code":"cross_site"' in refused
            assert call(stack, "GET", f"/admin/chats/{chat_id}")[1]["status"] != "closed"
            # the same request from the console's own origin goes through: the refusals above were the guard
            page.goto(console_url(stack))
            status = page.evaluate("""url => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                      body: JSON.stringify({msg: 'from the console', user_id: 1})}).then(r => r.status)""",
                                   f"{target}/messages")
        finally:
            context.close()
    assert status == 201
    assert _operator_messages(stack, chat_id) == ["from the console"]


def test_a_dns_rebinding_name_serves_the_console_page_but_not_the_admin_api(browser, console_stack):
    stack = console_stack
    port = stack.url.rsplit(":", 1)[1]
    rebinding = browser.browser_type.launch(  # a name the attacker controls, resolving to this machine
        executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, "--host-resolver-rules=MAP rebind.test 127.0.0.1"])
    try:
        page = rebinding.new_page()
        page.goto(f"http://rebind.test:{port}/console/")
        status, text = page.evaluate("() => fetch('/admin/chats').then(async r => [r.status, await r.text()])")
    finally:
        rebinding.close()
    assert status == 403 and '"code":"foreign_host"' in text
