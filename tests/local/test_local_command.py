"""`chatbridge local` as a user runs it: readiness line, readable logs, clean stop on signals, --data."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from support.paths import FIXTURES

FIXTURE = FIXTURES / "local_stack" / "template.yaml"

# Runs the `local` command through its own registration, independent of the top-level CLI wiring.
LAUNCHER = (
    "import argparse, sys\n"
    "from chatbridge.cli import local\n"
    "parser = argparse.ArgumentParser(prog='chatbridge')\n"
    "local.register(parser.add_subparsers(dest='command', required=True))\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.func(args))\n"
)

pytestmark = pytest.mark.slow


class Running:
    def __init__(self, *extra):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, "local", "--template", str(FIXTURE), "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines = []
        self.url = self._wait_ready()

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if line.startswith("chatbridge local ready on "):
                return line.split(" on ", 1)[1].strip()
        self.process.kill()
        raise AssertionError("no readiness line:\n" + "".join(self.lines))

    def read_until(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not in output:\n" + "".join(self.lines))

    def stop(self, sig=signal.SIGINT):
        self.process.send_signal(sig)
        rest, _ = self.process.communicate(timeout=120)  # a loaded 2-core box can take a while to save --data
        self.lines.append(rest)
        return self.process.returncode


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_ready_line_readable_function_logs_and_clean_stop_on_ctrl_c():
    stack = Running()
    assert stack.url.startswith("http://127.0.0.1:")
    assert _post(stack.url + "/things/cli-1", {"job": "x"}) == 200
    line = stack.read_until("stored thing")
    assert "INFO  [ApiFunction] stored thing  thing=cli-1" in line
    assert stack.stop(signal.SIGINT) == 0
    output = "".join(stack.lines)
    assert "stopped" in output
    assert "Traceback" not in output


def test_json_logs_keep_the_powertools_lines():
    stack = Running("--json-logs")
    _post(stack.url + "/things/cli-2", {"job": "x"})
    line = stack.read_until("stored thing")
    assert json.loads(line)["thing"] == "cli-2"
    assert stack.stop(signal.SIGTERM) == 0


def test_data_dir_survives_a_restart(tmp_path):
    first = Running("--data", str(tmp_path))
    _post(first.url + "/things/persisted", {"job": "x"})
    assert first.stop(signal.SIGTERM) == 0
    second = Running("--data", str(tmp_path))
    with urllib.request.urlopen(second.url + "/things/persisted", timeout=30) as response:
        assert response.status == 200
    assert second.stop() == 0
    with sqlite3.connect(tmp_path / "chatbridge-local.sqlite3") as store:  # the store, written as items change
        items = [json.loads(item) for (item,) in store.execute("SELECT item FROM items WHERE tbl = 'ItemsTable'")]
    assert any(item["pk"] == {"S": "persisted"} for item in items)


def test_port_in_use_is_a_clear_error():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-c", LAUNCHER, "local", "--template", str(FIXTURE),
                                 "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_broken_template_is_a_clear_error(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                        "      CodeUri: .\n      Handler: missing_module.handler\n")
    result = subprocess.run([sys.executable, "-c", LAUNCHER, "local", "--template", str(template), "--port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "cannot import handler missing_module.handler" in result.stderr


def _stored_items(directory):
    with sqlite3.connect(directory / "chatbridge-local.sqlite3") as store:
        return [json.loads(item) for (item,) in store.execute("SELECT item FROM items WHERE tbl = 'ItemsTable'")]


def test_every_acknowledged_write_survives_kill_9_exactly_once(tmp_path):
    """The store is written before the answer leaves, so SIGKILL (no shutdown at all) loses nothing the
    stack answered 200 for, and a restart on the same folder holds each item once."""
    first = Running("--data", str(tmp_path))
    names = [f"killed-{n}" for n in range(10)]
    for name in names:
        assert _post(first.url + f"/things/{name}", {"job": name}) == 200
    first.process.kill()
    first.process.communicate(timeout=60)
    second = Running("--data", str(tmp_path))
    try:
        for name in names:
            with urllib.request.urlopen(second.url + f"/things/{name}", timeout=30) as response:
                assert response.status == 200
    finally:
        assert second.stop() == 0
    stored = [item["pk"]["S"] for item in _stored_items(tmp_path)
              if item["pk"]["S"].startswith("killed-") and item["sk"] == {"S": "thing"}]
    assert sorted(stored) == sorted(names)


def test_ephemeral_keeps_nothing_in_the_data_folder_even_when_one_is_named(tmp_path):
    running = Running("--data", str(tmp_path), "--ephemeral")
    assert _post(running.url + "/things/forgotten", {"job": "x"}) == 200
    assert running.stop() == 0
    assert list(tmp_path.iterdir()) == []
