"""Fixtures (a pytest plugin, registered in tests/conftest.py) and helpers of the console's browser tests.

Browser tests of the operator console: Debian's chromium driven by Playwright, against `chatbridge local`.

Playwright cannot download its own browser here, so it launches the system's (``$CHROMIUM`` or
``chromium`` on PATH); where there is none, or Playwright is not installed, these tests skip saying so.
Set ``CHATBRIDGE_SCREENSHOTS=<folder>`` to save a screenshot of each view (docs/screenshots/ holds them).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support.local_stack import LocalStackProcess, loopback_server

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 20_000  # longest wait on one condition: a poll interval on a loaded 2-core box, with room


@pytest.fixture(scope="session")
def browser():
    """One chromium for every console test."""
    if not CHROMIUM or not os.path.exists(CHROMIUM):
        pytest.skip("no chromium for the console's browser tests: apt-get install -y --no-install-recommends "
                    "chromium (or set CHROMIUM=/path/to/chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -r requirements-dev.txt)")
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)  # expect() has its own 5 s default, short for a loaded box
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def console_third_party():
    """A real HTTP server standing in for a provider's send API (tests set its answers)."""
    with loopback_server() as server:
        yield server


@pytest.fixture(scope="module")
def console_stack():
    process = LocalStackProcess("--seed", env={"CHATBRIDGE_OUTBOUND_ALLOW": "127.0.0.1"})
    yield process
    assert process.stop() == 0, "".join(process.lines)


@pytest.fixture
def page(browser, console_stack):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"the console raised in the browser: {errors}"



def console_url(stack, fragment: str = "") -> str:
    return f"{stack.url}/console/{fragment}"


def call(stack, method: str, path: str, body=None) -> tuple[int, object]:
    """The admin API (or any route) as a script would call it."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"{stack.url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, (json.loads(text) if text else None)


def screenshot(page, name: str) -> None:
    folder = os.environ.get("CHATBRIDGE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def post_openwa(stack, *, sender: str, text: str, nick: str, identifier: str = "openwa-demo") -> dict:
    """A WhatsApp message as open-wa posts it to the seeded demo webhook."""
    message = {"id": f"false_{sender}@c.us_{time.monotonic_ns()}", "body": text, "type": "chat",
               "t": int(time.time()), "from": f"{sender}@c.us", "fromMe": False, "sender": {"pushname": nick}}
    status, answer = call(stack, "POST", f"/webhooks/incoming/{identifier}?output=json", message)
    assert status == 200 and answer["status"] == "ok", answer
    return answer


def echo_bodies(stack) -> list[str]:
    return [entry["body"] for entry in call(stack, "GET", "/_local/echo")[1]["received"]]
