"""`chatbridge local` as a subprocess for tests, and a patient wait: what every end-to-end test starts from."""

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from support.paths import ROOT

CHATBRIDGE = Path(sys.executable).parent / "chatbridge"


class LocalStackProcess:
    """`chatbridge local` in a subprocess; its output is drained continuously (a full pipe would stall it)."""

    def __init__(self, *args, env=None):
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [str(CHATBRIDGE), "local", "--port", "0", *args], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        self.lines = []
        self._pump = threading.Thread(target=self._drain, daemon=True)
        self._pump.start()
        ready = self.wait_for_line(lambda line: line.startswith("chatbridge local ready on "), timeout=60)
        self.url = ready.split(" on ", 1)[1].strip()

    def _drain(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_line(self, predicate, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if predicate(line):
                    return line
            if self.process.poll() is not None and not self._pump.is_alive():
                break
            time.sleep(0.05)
        self.process.kill()
        raise AssertionError("expected output missing:\n" + "".join(self.lines))

    def read_printed_curl(self):
        return shlex.split(self.wait_for_line(lambda line: line.strip().startswith("curl -sS -X POST")).strip())

    def kill(self):
        """SIGKILL: no shutdown code runs at all, as in a crash or a power cut (the durability tests)."""
        self.process.kill()
        self.process.wait(timeout=60)
        self._pump.join(10)

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)  # a loaded 2-core box needs more than the usual few seconds
        self._pump.join(10)
        return self.process.returncode


def eventually(check, timeout=30.0, stack=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    log = "".join(_without_repeats(stack.lines)[-60:]) if stack is not None else ""
    raise AssertionError(f"not within {timeout:.0f} s; the stack's last output (repeats dropped):\n{log}")


def _without_repeats(lines):
    """The stack's output without a line that only repeats the one before but for its time and duration: a
    check polling the stack would otherwise fill the tail with its own requests and hide what went wrong."""
    kept, previous = [], None
    for line in lines:
        shape = re.sub(r"\d+", "#", line)
        if shape != previous:
            kept.append(line)
        previous = shape
    return kept


@contextlib.contextmanager
def loopback_server():
    """A pytest-httpserver of its own on loopback, port 0: a third party beside the session's ``httpserver``."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()
