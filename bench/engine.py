"""Engine throughput: messages mapped per second by the pure engine on the real provider payloads.

Every sample payload in ../shared/payloads/ is paired with its provider's preset spec (tests/specs/ for shapes no
preset covers, as tests/providers/ checks them), decoded once, then mapped in a loop with
``spec.mapping.map_payload``. Baseline: parsing the same raw bodies (``json.loads``, or ``urllib.parse`` for the
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
TARGET_RATIO = 1.5  # issue 17: map_payload at most 1.5x parsing the same bodies


# a sample folder -> the preset of its provider (the one canonical spec per provider); folders no preset covers
# (Vonage) and the v5 envelope keep their hand-written spec in tests/specs
PRESET_OF_FOLDER = {"openwa": "open-wa", "whatsapp_cloud": "whatsapp-cloud", "telegram": "telegram",
                    "twilio": "twilio", "viber": "viber", "messenger": "messenger"}


def _spec_for(path: Path, cache: dict[str, Any]) -> Any | None:
    """The spec a sample is mapped with: its provider's preset (built with each required parameter's example),
    else a hand-written spec of its folder in tests/specs, else None (the sample is left out)."""
    from chatbridge.presets import build, get_preset
    from chatbridge.spec.model import IncomingWebhookSpec

    name = path.parent.name
    if name not in cache:
        if name in PRESET_OF_FOLDER:
            preset = get_preset(PRESET_OF_FOLDER[name])
            values = {p.name: p.example for p in preset.parameters if p.required}
            setup = build(preset, identifier=f"bench-{name}", values=values, webhook_base="https://bench.example")
            cache[name] = IncomingWebhookSpec.model_validate(setup.incoming_webhook)
        elif (SPECS / f"{name}.json").is_file():
            cache[name] = IncomingWebhookSpec.model_validate_json((SPECS / f"{name}.json").read_text())
        else:
            cache[name] = None
    return cache[name]


def corpus() -> list[tuple[Any, bytes, bool, Any]]:
    """(spec, raw body, is form, decoded payload) for every sample payload that has a spec."""
    from chatbridge.ingest.payload import decode_body

    specs: dict[str, Any] = {}
    items = []
    for path in sorted(PAYLOADS.glob("*/*")):
        spec = _spec_for(path, specs) if path.suffix in (".json", ".txt") else None
        if spec is None:
            continue
        raw = path.read_bytes()
        form = path.suffix == ".txt"
        items.append((spec, raw, form, decode_body(raw, content_type=FORM if form else "application/json")))
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
    note = (f"engine: {len(items)} provider payloads from ../shared/payloads with their providers' preset specs (tests/specs for Vonage) "
            f"({messages} messages per round; ignored payloads count as payloads); baseline = json.loads "
            "(parse_qsl for form bodies) of the same raw bodies")
    return [
        Row("engine_throughput", "map_payload, µs per payload", median(mapped) * 1e6, "µs",
            baseline=median(parsed) * 1e6, baseline_label="json.loads", target=TARGET_RATIO, note=note,
            extra={"payloads": len(items), "messages_per_round": messages}),
        Row("engine_throughput", "messages mapped per second", 1 / per_message, "msg/s",
            extra={"payloads_mapped_per_second": round(1 / median(mapped)),
                   "payloads_parsed_per_second": round(1 / median(parsed))}),
    ]
