"""Cold start: how long importing each handler module takes in a fresh interpreter, against ``import boto3``.

A Lambda cold start pays for the handler's imports before the first request; boto3 is the floor every
function here pays anyway (it is what talks to DynamoDB and SQS). Each sample is a new subprocess timing
``import app`` (or ``import boto3``) with ``time.perf_counter``, run from the function's directory with
the function's environment from template.yaml, as Lambda imports ``app.lambda_handler``. Samples alternate between the
handler and the baseline; the median of each is compared. One extra ``python -X importtime`` run per
handler names the heaviest imports (in the JSON), to show where a regression comes from.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.aws import ROOT
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
    return rows
