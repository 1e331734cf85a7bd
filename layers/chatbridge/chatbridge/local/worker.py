"""The inside of one local "Lambda container": a process that imports one handler and runs invocations.

Each function gets its own processes, as on AWS: its own environment variables, its own module namespace
(every handler is ``app.lambda_handler`` and they must not collide), its own cold start and warm globals.
The parent sends JSON events over a pipe and gets JSON results back.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
import uuid
from multiprocessing.connection import Connection
from typing import Any


class LambdaContext:
    """The attributes and method of the Lambda Python context object that handlers and Powertools use."""

    def __init__(self, *, function_name: str, memory_size: int, timeout: int, region: str,
                 request_id: str | None = None) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_size
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv: list[str]) -> None:
    """``python -m chatbridge.local.worker FD``: FD is this end of the parent's socket pair."""
    conn = Connection(int(argv[0]))
    serve(conn, conn.recv())


def serve(conn: Connection, spec: dict[str, Any]) -> None:
    """Set up like a Lambda runtime, import the handler, answer invocations until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us cleanly
    os.environ.update(spec["environment"])
    sys.path[:0] = [spec["code_dir"], *spec["layer_dirs"]]
    if not spec["json_logs"]:
        from chatbridge.local.logs import ReadableStream

        sys.stdout = ReadableStream(sys.__stdout__, spec["logical_id"])
        sys.stderr = ReadableStream(sys.__stderr__, spec["logical_id"])
    try:
        module_name, _, function_name = spec["handler"].rpartition(".")
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException as exc:  # noqa: BLE001 - any import failure is reported to the parent as is
        conn.send({"ready": False, "error": _error(exc)})
        return
    conn.send({"ready": True})
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        conn.send(_invoke(handler, spec, message))
        sys.stdout.flush()


def _invoke(handler: Any, spec: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    context = LambdaContext(function_name=spec["name"], memory_size=spec["memory_size"],
                            timeout=spec["timeout"], region=spec["region"], request_id=message["request_id"])
    try:
        result = handler(json.loads(message["event"]), context)
        return {"ok": True, "result": json.dumps(result)}
    except Exception as exc:  # noqa: BLE001 - Lambda reports any handler exception as a function error
        return {"ok": False, "error": _error(exc)}


def _error(exc: BaseException) -> dict[str, Any]:
    return {"errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc)}


if __name__ == "__main__":
    main(sys.argv[1:])
