"""Local stack: requests per second and latency of ``POST /webhooks/incoming/{id}`` over loopback.

``chatbridge local --port 0 --seed`` runs as a subprocess (moto, worker processes, pollers: the whole
system), and a bounded load is sent to it from this process: a fixed number of requests from a few
threads, each thread on its own keep-alive connection and its own chat (so writers do not race for one
chat). Baseline: the same requests, same concurrency, to the stack's ``/_local/echo`` endpoint, served by
the same HTTP server without a function behind it, so the ratio is what the API emulation, the ingest
function's worker process and moto add per request.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from bench.aws import ROOT, local_environment
from bench.report import Row
from bench.timing import median, percentile

_START = "import sys; from chatbridge.cli import main; sys.exit(main())"


class StackProcess:
    """``chatbridge local`` in a subprocess; its output is drained so a full pipe never stalls it."""

    def __init__(self) -> None:
        local_environment()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _START, "local", "--port", "0", "--seed"], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.url = ""
        threading.Thread(target=self._drain, daemon=True).start()
        if not self.ready.wait(120) or not self.url:
            self.stop()
            raise RuntimeError("chatbridge local did not start:\n" + "".join(self.lines[-30:]))

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("chatbridge local ready on "):
                self.url = line.split(" on ", 1)[1].strip()
                self.ready.set()
        self.ready.set()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _message(worker: int, number: int) -> bytes:
    from chatbridge.local.seed import SAMPLE_MESSAGE

    sender = f"44770090{worker:04d}@c.us"
    return json.dumps({**SAMPLE_MESSAGE, "id": f"false_{sender}_BENCH{number:08d}", "from": sender,
                       "chatId": sender, "body": f"benchmark message {number}"}).encode()


def _load(url: str, path: str, *, requests: int, concurrency: int, offset: int) -> tuple[float, list[float]]:
    """Send ``requests`` POSTs from ``concurrency`` threads; returns (wall seconds, per-request seconds in the
    order the requests started)."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    latencies: list[tuple[float, float]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        mine = []
        try:
            for number in range(index, requests, concurrency):
                body = _message(index, offset + number)
                started = time.perf_counter()
                connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                mine.append((started, time.perf_counter() - started))
                if response.status != 200:
                    failures.append(f"{path}: HTTP {response.status}")
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, first: {failures[0]}")
    return wall, [latency for _, latency in sorted(latencies)]


def run(*, quick: bool) -> list[Row]:
    from chatbridge.local.seed import IDENTIFIER

    requests, concurrency = (40, 4) if quick else (200, 4)
    stack = StackProcess()
    try:
        webhook, echo = f"/webhooks/incoming/{IDENTIFIER}", "/_local/echo/sendText"
        _load(stack.url, webhook, requests=4 * concurrency, concurrency=concurrency, offset=10_000_000)  # warm workers
        _load(stack.url, echo, requests=4 * concurrency, concurrency=concurrency, offset=0)
        echo_wall, echo_latencies = _load(stack.url, echo, requests=requests, concurrency=concurrency, offset=0)
        wall, latencies = _load(stack.url, webhook, requests=requests, concurrency=concurrency, offset=0)
    finally:
        stack.stop()
    quarter = max(1, len(latencies) // 4)
    first, last = median(latencies[:quarter]) * 1000, median(latencies[-quarter:]) * 1000
    note = (f"local_stack: {requests} POSTs, {concurrency} concurrent keep-alive connections, one chat per "
            "connection, against `chatbridge local --seed` in a subprocess; baseline = the same requests to "
            "/_local/echo on the same server. Latency grows with the chat table (p50 of the first quarter "
            f"{first:.0f} ms, last quarter {last:.0f} ms): moto deep-copies the whole table and its stream for "
            "every item of every transaction (its rollback copy), a cost DynamoDB does not have")
    extra: dict[str, Any] = {"requests": requests, "concurrency": concurrency,
                             "p50_first_quarter_ms": round(first, 1), "p50_last_quarter_ms": round(last, 1)}
    return [
        Row("local_stack", "POST /webhooks/incoming/{id}: throughput", requests / wall, "req/s",
            baseline=requests / echo_wall, baseline_label="/_local/echo", note=note, extra=extra),
        Row("local_stack", "POST /webhooks/incoming/{id}: p50 latency", median(latencies) * 1000, "ms",
            baseline=median(echo_latencies) * 1000, baseline_label="/_local/echo"),
        Row("local_stack", "POST /webhooks/incoming/{id}: p99 latency", percentile(latencies, 99) * 1000, "ms",
            baseline=percentile(echo_latencies, 99) * 1000, baseline_label="/_local/echo"),
    ]
