"""Cold start: how long importing each handler module takes in a fresh interpreter, against ``import boto3``.

A Lambda cold start pays for the handler's imports before the first request; boto3 is the floor every
function here pays anyway (it is what talks to DynamoDB and SQS). Each sample is a new subprocess timing
``import app`` (or ``import boto3``) with ``time.perf_counter``, run from the function's directory with
the function's environment from template.yaml, as Lambda imports ``app.lambda_handler``. Samples alternate between the
handler and the baseline; the median of each is compared. One extra ``python -X importtime`` run per
handler names the heaviest imports (in the JSON), to show where a regression comes from.

What Lambda bills for a cold start is the import *and* the first invocation, so one informational row
(``import + first webhook``) times, in a fresh interpreter, ``import app`` plus the ingest handler's first
call: an open-wa text message for an existing chat (a new message id each sample), against a moto server
in this process holding the template's tables and the preset's spec. Its baseline is ``import boto3`` plus
one DynamoDB ``GetItem`` (client creation included) against the same server: the least any first request
pays. Work moved from the import into the first call shows up here, not as a saving.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.aws import ROOT
from bench.engine import PAYLOADS
from bench.report import Row
from bench.timing import median

FUNCTIONS = ("ingest", "admin", "evaluator", "dispatcher")
TARGET = 2.0  # issue 17: every handler at most twice `import boto3`
_TIMER = "import time, sys; t = time.perf_counter(); import {module}; sys.stdout.write(repr(time.perf_counter() - t))"


def _environment(function: str) -> dict[str, str]:
    """The function's environment from template.yaml (Globals and its own), no AWS credentials."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_"))}
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"})
    env.update(_template_environment().get(function, {}))
    return env


@functools.lru_cache(maxsize=1)
def _template_environment() -> dict[str, dict[str, str]]:
    from chatbridge.local.template import load_template

    template = load_template(ROOT / "template.yaml", endpoint_url="http://127.0.0.1:1")
    return {Path(fn.code_dir).name: {k: v for k, v in fn.environment.items() if k != "AWS_ENDPOINT_URL"}
            for fn in template.functions.values()}


def _time_import(module: str, cwd: str, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", _TIMER.format(module=module)], cwd=cwd, env=env, check=True,
                         capture_output=True, text=True, timeout=120)
    return float(out.stdout.strip())


def heaviest_imports(function: str, top: int = 8) -> list[dict[str, Any]]:
    """``-X importtime``: the top-level packages whose modules cost the most (self time summed), for the JSON."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app"], cwd=ROOT / "functions" / function,
                         env=_environment(function), check=True, capture_output=True, text=True, timeout=120)
    packages: dict[str, int] = {}
    for line in out.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        package = parts[2].strip().split(".")[0]
        packages[package] = packages.get(package, 0) + int(parts[0])
    ranked = sorted(packages.items(), key=lambda item: item[1], reverse=True)[:top]
    return [{"package": name, "self_ms": round(us / 1000, 1)} for name, us in ranked]


# the first webhook: the child's clock starts before ``import app`` and stops after the handler answers
_FIRST_WEBHOOK = """import time, sys, json
t = time.perf_counter()
import app
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "ingest", 256, "cold-start"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ingest"
    def get_remaining_time_in_millis(self):
        return 25000
answer = app.lambda_handler(json.loads(sys.argv[1]), Context())
elapsed = time.perf_counter() - t
assert answer["statusCode"] == 200 and '"messages":1' in answer["body"], answer
print("RESULT", repr(elapsed))
"""
_FIRST_REQUEST = """import time, sys
t = time.perf_counter()
import boto3
boto3.client("dynamodb").get_item(TableName=sys.argv[1], Key={"pk": {"S": "IWH"}, "sk": {"S": "none"}})
print("RESULT", repr(time.perf_counter() - t))
"""
SPEC_IDENTIFIER = "coldstart-openwa"


@contextlib.contextmanager
def _moto_server() -> Iterator[dict[str, str]]:
    """A moto server with the template's resources and the open-wa preset's spec; yields the ingest function's
    environment pointing at it (fake credentials, no AWS account reachable)."""
    import boto3
    from moto.server import ThreadedMotoServer

    from chatbridge.local.resources import create_all
    from chatbridge.local.template import load_template
    from chatbridge.presets import build, get_preset
    from chatbridge.repository import specs
    from chatbridge.repository.caches import forget_all
    from chatbridge.spec.model import IncomingWebhookSpec

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    saved = dict(os.environ)
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_ENDPOINT_URL": endpoint}
        os.environ.update({**credentials, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"})
        first = load_template(ROOT / "template.yaml", endpoint_url=endpoint)
        created = create_all(first, boto3.client("dynamodb"), boto3.client("sqs"))
        template = load_template(ROOT / "template.yaml", endpoint_url=endpoint, attributes=created)
        environment = {k: v for k, v in template.functions["IngestFunction"].environment.items()
                       if k != "AWS_ENDPOINT_URL"}
        os.environ.update(environment)
        forget_all()
        setup = build(get_preset("open-wa"), identifier=SPEC_IDENTIFIER, webhook_base="https://chat.example.com/Prod",
                      values={"base_url": "https://wa.example.com/", "secret": "cold-start-secret-0123456789"})
        specs.save_spec(IncomingWebhookSpec.model_validate({**setup.incoming_webhook, "verification": None}))
        yield {**_environment("ingest"), **environment, **credentials}
    finally:
        forget_all()
        os.environ.clear()
        os.environ.update(saved)
        host, port = server.get_host_and_port()  # moto's backends outlive the server: leave none behind
        urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"), timeout=30)
        server.stop()


def _webhook_event(number: int) -> str:
    message = json.loads((PAYLOADS / "openwa" / "openwa_v5docs_incoming_text.json").read_text())
    message["id"] = f"false_447700900000@c.us_COLDSTART{number:06d}"
    return json.dumps({"resource": "/webhooks/incoming/{identifier}", "path": f"/webhooks/incoming/{SPEC_IDENTIFIER}",
                       "httpMethod": "POST", "headers": {"Content-Type": "application/json"},
                       "multiValueHeaders": {}, "queryStringParameters": None, "pathParameters":
                       {"identifier": SPEC_IDENTIFIER}, "isBase64Encoded": False, "body": json.dumps(message),
                       "requestContext": {"stage": "Prod", "domainName": "chat.example.com",
                                          "path": f"/Prod/webhooks/incoming/{SPEC_IDENTIFIER}"}})


def _child(code: str, argument: str, cwd: Path, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", code, argument], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=120)
    if out.returncode:
        raise RuntimeError(f"the cold-start child failed: {out.stderr[-2000:]}")
    return float(next(line for line in reversed(out.stdout.splitlines()) if line.startswith("RESULT ")).split()[1])


def first_webhook_samples(samples: int, function_dir: Path | None = None,
                          layer: Path | None = None) -> tuple[list[float], list[float]]:
    """(import + first webhook, import boto3 + first GetItem) in seconds, alternating; ``function_dir`` and
    ``layer`` let a comparison time another checkout's handler against the same server."""
    with _moto_server() as env:
        if layer is not None:
            env = {**env, "PYTHONPATH": str(layer)}
        cwd = function_dir or ROOT / "functions" / "ingest"
        config_table = env["CONFIG_TABLE"]
        _child(_FIRST_WEBHOOK, _webhook_event(0), cwd, env)  # creates the chat; later samples find it
        handler, floor = [], []
        for number in range(1, samples + 1):
            handler.append(_child(_FIRST_WEBHOOK, _webhook_event(number), cwd, env))
            floor.append(_child(_FIRST_REQUEST, config_table, ROOT, env))
        return handler, floor


def run(*, quick: bool) -> list[Row]:
    samples = 3 if quick else 9
    rows = []
    baseline_env = _environment("baseline")
    _time_import("boto3", str(ROOT), baseline_env)  # first runs write bytecode caches: not what Lambda measures
    for function in FUNCTIONS:
        _time_import("app", str(ROOT / "functions" / function), _environment(function))
    for function in FUNCTIONS:
        cwd, env = str(ROOT / "functions" / function), _environment(function)
        handler, boto3 = [], []
        for _ in range(samples):
            handler.append(_time_import("app", cwd, env))
            boto3.append(_time_import("boto3", str(ROOT), baseline_env))
        extra: dict[str, Any] = {"samples": samples, "handler_ms": [round(s * 1000, 1) for s in handler],
                                 "boto3_ms": [round(s * 1000, 1) for s in boto3]}
        if not quick:
            extra["heaviest_imports"] = heaviest_imports(function)
        rows.append(Row("cold_start", f"import {function} handler", median(handler) * 1000, "ms",
                        baseline=median(boto3) * 1000, baseline_label="import boto3", target=TARGET,
                        note="cold_start: median import time of functions/<name>/app.py in a fresh interpreter vs "
                             "`import boto3` alone, alternating samples",
                        extra=extra))
    handler, floor = first_webhook_samples(samples)
    rows.append(Row("cold_start", "import ingest handler + first webhook", median(handler) * 1000, "ms",
                    baseline=median(floor) * 1000, baseline_label="import boto3 + first GetItem",
                    note="cold_start (informational): import app + the first lambda_handler call (an open-wa text "
                         "message, existing chat, moto server) vs import boto3 + one DynamoDB GetItem",
                    extra={"samples": samples, "handler_ms": [round(s * 1000, 1) for s in handler],
                           "floor_ms": [round(s * 1000, 1) for s in floor]}))
    return rows
