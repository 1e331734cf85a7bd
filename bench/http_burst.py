"""A burst of new connections: 50 at once against ``chatbridge local``, each posting one webhook.

Providers open a connection per event and many do not retry: a connection the kernel resets because the
listen backlog was full (the stdlib's default is 5) is a message lost. Every connection is opened at the
same moment (a barrier releases 50 threads), each sends one open-wa message from its own sender, and each
outcome is counted: answered, reset (or refused, or closed before answering), or any other failure.
Baseline: the slowest answer of the burst against one webhook request on a quiet connection, measured
in the same run (the burst's answers queue behind the ingest function's workers, so the ratio says how
long the last provider waited, not how fast the stack is).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from bench.local_stack import StackProcess
from bench.report import Row
from bench.timing import median

CONNECTIONS = 50
_RESETS = (ConnectionResetError, ConnectionRefusedError, ConnectionAbortedError, BrokenPipeError,
           http.client.RemoteDisconnected)


def _message(sender_number: int, number: int) -> bytes:
    """The seeded open-wa sample from its own sender (a provider's burst is many chats at once)."""
    from chatbridge.local.seed import SAMPLE_MESSAGE

    sender = f"44770091{sender_number:04d}@c.us"
    return json.dumps({**SAMPLE_MESSAGE, "id": f"false_{sender}_BURST{number:08d}", "from": sender,
                       "chatId": sender, "body": f"burst message {number}"}).encode()


def _post(host: str, port: int, path: str, body: bytes) -> tuple[str, float]:
    """One request on a new connection: its outcome (``ok``, ``reset`` or what else went wrong) and seconds."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=120)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        outcome = "ok" if response.status == 200 else f"HTTP {response.status}"
    except _RESETS:
        outcome = "reset"
    except TimeoutError:
        outcome = "timeout"
    except OSError as error:
        outcome = f"{type(error).__name__}"
    finally:
        connection.close()
    return outcome, time.perf_counter() - started


def burst(url: str, path: str, *, connections: int, offset: int) -> tuple[Counter[str], list[float]]:
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 80
    gate = threading.Barrier(connections)
    outcomes: list[tuple[str, float]] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        body = _message(index, offset + index)
        gate.wait()
        result = _post(host, port, path, body)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(outcome for outcome, _ in outcomes), [seconds for _, seconds in outcomes]


def run(*, quick: bool) -> list[Row]:
    from chatbridge.local.seed import IDENTIFIER

    path = f"/webhooks/incoming/{IDENTIFIER}"
    stack = StackProcess()
    try:
        host, port = urlsplit(stack.url).hostname or "127.0.0.1", urlsplit(stack.url).port or 80
        singles = [_post(host, port, path, _message(9999, 20_000_000 + n)) for n in range(3 if quick else 7)]
        single = median([seconds for outcome, seconds in singles[1:]])  # the first warms a worker
        counts, seconds = burst(stack.url, path, connections=CONNECTIONS, offset=30_000_000)
    finally:
        stack.stop()
    resets = counts.get("reset", 0)
    note = (f"http_burst: {CONNECTIONS} connections opened at once (a barrier), one open-wa webhook each, against "
            "`chatbridge local --seed` in a subprocess; outcomes " +
            ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) +
            "; baseline = one webhook request on a quiet connection in the same run")
    extra: dict[str, Any] = {"connections": CONNECTIONS, "outcomes": dict(counts)}
    return [
        Row("http_burst", f"{CONNECTIONS} connections at once: TCP resets", resets, "resets", target=0,
            target_on="value", note=note, extra=extra),
        Row("http_burst", f"{CONNECTIONS} connections at once: answered 200", counts.get("ok", 0), "answers",
            baseline=CONNECTIONS, baseline_label="connections opened"),
        Row("http_burst", f"{CONNECTIONS} connections at once: slowest answer", max(seconds) * 1000, "ms",
            baseline=single * 1000, baseline_label="one request alone"),
    ]
