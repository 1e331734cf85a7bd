"""Local stack: a day of webhook traffic against ``chatbridge local``, measured against the in-process handler.

``chatbridge local --seed --data DIR`` runs as a subprocess (moto, worker processes, pollers, the durable
store: the whole system as ``make run`` starts it), and 2,000 open-wa messages over 50 chats are posted to
it from 8 keep-alive connections (``--quick``: 400, same shape). Request ``n`` is chat ``n % 50``, so the
chats grow together and connections sometimes write the same chat at once, as real providers do.

Every number is a ratio against a baseline measured in the same run on the same CPUs:

- *flat latency*: p50 of the last quarter of the requests (in start order) over p50 of the first quarter;
- *latency*: p50 of 200 requests on one connection after the load, over the in-process ``ingest_overhead``
  1-message time (``bench.ingest_overhead``'s own sample: the real handler on in-process moto, one message
  into an existing chat). The p50 under the 8 connections is reported too, without a target: by Little's
  law it is at least 8 / throughput, mostly time queued behind the other connections;
- *throughput*: requests per second over what the real ingest handler alone sustains on in-process moto,
  one process per CPU, fed the same 2,000 payloads (so the baseline uses every CPU the stack may use);
- *memory*: the stack process's RSS at the end over its RSS after the warm-up (growth, in MB).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import aws
from bench.aws import ROOT, local_environment
from bench.report import Row
from bench.timing import median, percentile

_START = "import sys; from chatbridge.cli import main; sys.exit(main())"
CHATS = 50
CONNECTIONS = 8
ALONE = 200  # requests of the one-connection phase (the latency row): nothing queues ahead of them


class StackProcess:
    """``chatbridge local`` in a subprocess; its output is drained so a full pipe never stalls it."""

    def __init__(self, *args: str) -> None:
        local_environment()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _START, "local", "--port", "0", "--seed", *args], cwd=ROOT, text=True,
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

    def rss_mb(self) -> float:
        """Resident memory of the stack's own process (moto, the store, the HTTP edge, the pollers)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS for the stack process")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def message(number: int, *, tag: str = "BENCH") -> bytes:
    """open-wa's documented text message, for chat ``number % 50``, with its own provider message id."""
    from chatbridge.local.seed import SAMPLE_MESSAGE

    sender = f"44770090{number % CHATS:04d}@c.us"
    return json.dumps({**SAMPLE_MESSAGE, "id": f"false_{sender}_{tag}{number:08d}", "from": sender,
                       "chatId": sender, "sender": {**SAMPLE_MESSAGE["sender"], "id": sender},
                       "body": f"benchmark message {number}"}).encode()


def _load(url: str, path: str, *, requests: int, offset: int, connections: int = CONNECTIONS,
          ) -> tuple[float, list[float]]:
    """Send ``requests`` POSTs from ``connections`` keep-alive connections; returns (wall seconds,
    per-request seconds in the order the requests started)."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    latencies: list[tuple[float, float]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=120)
        mine = []
        try:
            for number in range(index, requests, connections):
                body = message(offset + number)
                started = time.perf_counter()
                connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                mine.append((started, time.perf_counter() - started))
                if response.status != 200:
                    failures.append(f"{path}: HTTP {response.status} {answer[:200]!r}")
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, first: {failures[0]}")
    return wall, [latency for _, latency in sorted(latencies)]


def inprocess_ingest(numbers: list[int], gate: Any, results: Any) -> None:
    """The real ingest handler on in-process moto for these payloads, in a process of its own (one per CPU
    share the baseline's load). The seeded open-wa spec is stored and each chat warmed first, as the stack's
    warm-up does; then ``gate`` (a barrier) starts every process at once, and (start, end) of the timed
    loop goes to ``results``."""
    from chatbridge.local.seed import IDENTIFIER, OPENWA_SPEC
    from chatbridge.repository import specs
    from chatbridge.spec.model import IncomingWebhookSpec

    aws.local_environment()
    aws.one_snapshot_per_transaction()  # the local stack's moto patches, on the in-process moto too
    with aws.moto_stack():
        specs.save_spec(IncomingWebhookSpec.model_validate(OPENWA_SPEC))
        handler = aws.load_handler("ingest")
        with aws.quiet_stdout():
            for chat in sorted({number % CHATS for number in numbers}):
                response = handler.lambda_handler(aws.api_event(IDENTIFIER, message(chat, tag="WARM").decode()),
                                                  aws.lambda_context())
                assert response["statusCode"] == 200, response
            events = [aws.api_event(IDENTIFIER, message(number).decode()) for number in numbers]
            gate.wait(300)
            started = time.perf_counter()
            for event in events:  # a context per invocation, as Lambda gives: its deadline is the request's
                response = handler.lambda_handler(event, aws.lambda_context())
                assert response["statusCode"] == 200, response
            results.put((started, time.perf_counter()))


def _inprocess_throughput(requests: int) -> tuple[float, int]:
    """Requests per second of the in-process handler over ``os.cpu_count()`` processes started together,
    the payloads split between them by chat (each chat's messages in order, as in the stack), and the
    process count. CLOCK_MONOTONIC (``perf_counter``) is one clock for every process of the machine."""
    processes = max(1, os.cpu_count() or 1)
    shares = [[n for n in range(requests) if (n % CHATS) % processes == share] for share in range(processes)]
    context = multiprocessing.get_context("spawn")  # this process runs threads: never fork it
    gate, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=inprocess_ingest, args=(share, gate, results)) for share in shares]
    for worker in workers:
        worker.start()
    spans = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(60)
        if worker.exitcode != 0:
            raise RuntimeError(f"the in-process baseline's worker exited with {worker.exitcode}")
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return requests / wall, processes


def _one_message_ms(samples: int) -> list[float]:
    from bench.ingest_overhead import _handler_sample

    aws.local_environment()
    aws.one_snapshot_per_transaction()
    return [_handler_sample(1) * 1000 for _ in range(samples)]


def run(*, quick: bool) -> list[Row]:
    from chatbridge.local.seed import IDENTIFIER

    requests = 400 if quick else 2000
    one_message = _one_message_ms(5 if quick else 11)
    baseline_rps, processes = _inprocess_throughput(requests)
    webhook = f"/webhooks/incoming/{IDENTIFIER}"
    with tempfile.TemporaryDirectory(prefix="chatbridge-bench-") as data:
        stack = StackProcess("--data", data)
        try:
            for chat in range(CHATS):  # each chat exists and every worker is warm before the clock starts
                _load(stack.url, webhook, requests=CONNECTIONS, offset=10_000_000 + chat * CONNECTIONS)
            rss_before = stack.rss_mb()
            wall, latencies = _load(stack.url, webhook, requests=requests, offset=0)
            rss_after = stack.rss_mb()
            _, alone = _load(stack.url, webhook, requests=ALONE, offset=5_000_000, connections=1)
        except RuntimeError as error:
            raise RuntimeError(f"{error}\nthe stack's last output:\n" + "".join(stack.lines[-40:])) from None
        finally:
            stack.stop()
    one_message += _one_message_ms(5 if quick else 11)  # before and after: drift hits both sides
    one_ms = median(one_message)
    quarter = max(1, len(latencies) // 4)
    first, last = median(latencies[:quarter]) * 1000, median(latencies[-quarter:]) * 1000
    p50, p99 = median(latencies) * 1000, percentile(latencies, 99) * 1000
    p50_alone = median(alone) * 1000
    throughput = requests / wall
    note = (f"local_stack: {requests:,} open-wa webhooks over {CHATS} chats from {CONNECTIONS} keep-alive "
            "connections to `chatbridge local --seed --data DIR` in a subprocess (the durable store fsyncs each "
            "answer's writes); baselines from the same run: the in-process ingest handler on in-process moto "
            f"(ingest_overhead's 1-message sample, median; for throughput the same payloads in {processes} "
            "processes, one per CPU). The latency target is taken on one connection after the load "
            f"({ALONE} more requests, nothing queued ahead of them); with 8 connections a request waits for the "
            "others ahead of it: by Little's law p50 >= 8 / throughput, so the loaded p50 (informational) is mostly "
            "queueing")
    extra: dict[str, Any] = {"requests": requests, "connections": CONNECTIONS, "chats": CHATS,
                             "p50_first_quarter_ms": round(first, 1), "p50_last_quarter_ms": round(last, 1),
                             "p99_ms": round(p99, 1), "p50_one_connection_ms": round(p50_alone, 1),
                             "one_connection_requests": ALONE, "one_message_ms": [round(v, 2) for v in one_message],
                             "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1),
                             "baseline_processes": processes, "wall_s": round(wall, 1)}
    return [
        Row("local_stack", "p50 latency, last quarter vs first quarter", last, "ms", baseline=first,
            baseline_label="p50 of the first quarter", target=1.2, note=note, extra=extra),
        Row("local_stack", "p50 latency on one connection vs in-process 1-message ingest", p50_alone, "ms",
            baseline=one_ms, baseline_label="ingest_overhead 1 msg, in-process", target=3),
        Row("local_stack", "p50 latency, 8 connections, vs in-process 1-message ingest", p50, "ms", baseline=one_ms,
            baseline_label="ingest_overhead 1 msg, in-process"),
        Row("local_stack", "throughput vs in-process handler", throughput, "req/s", baseline=baseline_rps,
            baseline_label=f"in-process handler, {processes} processes", target=0.5, at_least=True),
        Row("local_stack", "p99 latency", p99, "ms", baseline=p50, baseline_label="p50"),
        Row("local_stack", "RSS growth of the stack process", rss_after - rss_before, "MB",
            baseline=rss_before, baseline_label="RSS after warm-up", target=100, target_on="value"),
    ]
