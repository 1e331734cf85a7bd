"""Engine throughput: messages mapped per second by the pure engine on the real provider payloads.

Every sample payload in ../shared/payloads/ is paired with its provider's spec from tests/specs/ (the
pairs tests/test_provider_payloads.py checks), decoded once, then mapped in a loop with
``mapping.map_payload``. Baseline: parsing the same raw bodies (``json.loads``, or ``urllib.parse`` for the
form-encoded Twilio and Vonage bodies), the least any webhook receiver does with a payload. Both loops
run for about the same wall time, alternating rounds; the ratio compares time per payload.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from bench.aws import ROOT
from bench.report import Row
from bench.timing import median

PAYLOADS = ROOT.parent / "shared" / "payloads"
SPECS = ROOT / "tests" / "specs"
FORM = "application/x-www-form-urlencoded"


def _spec_name(path: Path) -> str:
    if path.parent.name == "openwa" and "envelope" in path.name:
        return "openwa_v5_envelope"
    return path.parent.name


def corpus() -> list[tuple[Any, bytes, bool, Any]]:
    """(spec, raw body, is form, decoded payload) for every sample payload that has a spec."""
    from chatbridge.ingest.payload import decode_body
    from chatbridge.spec.model import IncomingWebhookSpec

    specs: dict[str, Any] = {}
    items = []
    for path in sorted(PAYLOADS.glob("*/*")):
        if path.suffix not in (".json", ".txt") or not (SPECS / f"{_spec_name(path)}.json").is_file():
            continue
        name = _spec_name(path)
        if name not in specs:
            specs[name] = IncomingWebhookSpec.model_validate_json((SPECS / f"{name}.json").read_text())
        raw = path.read_bytes()
        form = path.suffix == ".txt"
        items.append((specs[name], raw, form, decode_body(raw, content_type=FORM if form else "application/json")))
    return items


def _parse_round(items: list[tuple[Any, bytes, bool, Any]]) -> int:
    for _, raw, form, _ in items:
        if form:
            dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        else:
            json.loads(raw)
    return 0


def _map_round(items: list[tuple[Any, bytes, bool, Any]]) -> int:
    from chatbridge.spec.mapping import map_payload

    mapped = 0
    for spec, _, _, payload in items:
        result = map_payload(spec, payload)
        mapped += sum(len(chat.messages) for chat in result.chats)
    return mapped


def _rate(round_fn: Any, items: list[Any], seconds: float) -> tuple[float, int]:
    """Seconds per payload over as many rounds as fit in ``seconds``; messages mapped per round."""
    rounds, messages, started = 0, 0, time.perf_counter()
    while True:
        messages = round_fn(items)
        rounds += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / (rounds * len(items)), messages


def run(*, quick: bool) -> list[Row]:
    items = corpus()
    if not items:
        raise RuntimeError(f"no provider payloads found in {PAYLOADS}")
    _map_round(items)  # compile every spec once (as a warm Lambda has)
    seconds, rounds = (0.2, 3) if quick else (1.0, 7)
    mapped, parsed = [], []
    messages = 0
    for _ in range(rounds):
        per_payload, messages = _rate(_map_round, items, seconds)
        mapped.append(per_payload)
        parsed.append(_rate(_parse_round, items, seconds)[0])
    per_message = median(mapped) * len(items) / max(1, messages)
    note = (f"engine: {len(items)} provider payloads from ../shared/payloads with the specs in tests/specs "
            f"({messages} messages per round; ignored payloads count as payloads); baseline = json.loads "
            "(parse_qsl for form bodies) of the same raw bodies")
    return [
        Row("engine_throughput", "map_payload, µs per payload", median(mapped) * 1e6, "µs",
            baseline=median(parsed) * 1e6, baseline_label="json.loads", note=note,
            extra={"payloads": len(items), "messages_per_round": messages}),
        Row("engine_throughput", "messages mapped per second", 1 / per_message, "msg/s",
            extra={"payloads_mapped_per_second": round(1 / median(mapped)),
                   "payloads_parsed_per_second": round(1 / median(parsed))}),
    ]
