"""Invoking a template function locally: a small pool of worker processes per function.

Like Lambda, one worker runs one invocation at a time, and more workers start when invocations overlap
(up to ``max_workers``). A handler exception is a function error; an invocation that outlives the
function's Timeout kills its worker, as Lambda does.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from chatbridge.errors import ChatbridgeError
from chatbridge.local.template import FunctionDef

log = logging.getLogger("chatbridge.local")


class FunctionError(ChatbridgeError):
    """The handler raised, timed out or could not be imported."""

    def __init__(self, function: str, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(f"{function}: {error_type}: {message}")
        self.function = function
        self.error_type = error_type
        self.error_message = message
        self.stack = stack or []


class FunctionTimeout(FunctionError):
    pass


@dataclass
class _Worker:
    process: Any
    conn: Connection


class FunctionRuntime:
    def __init__(self, fn: FunctionDef, *, environment: dict[str, str], region: str, json_logs: bool = False,
                 max_workers: int = 4) -> None:
        self.fn = fn
        self.max_workers = max_workers
        self._spec = {
            "logical_id": fn.logical_id, "name": fn.name, "handler": fn.handler, "code_dir": str(fn.code_dir),
            "layer_dirs": [str(d) for d in fn.layer_dirs], "memory_size": fn.memory_size,
            "timeout": fn.timeout, "region": region, "json_logs": json_logs,
            "environment": {**_lambda_environment(fn, region), **environment},
        }
        self._idle: list[_Worker] = []
        self._count = 0
        self._lock = threading.Condition()
        self._closed = False

    def start(self) -> None:
        """Start the first worker now, so an import error surfaces at startup and not on first use."""
        first = self._spawn()
        with self._lock:
            self._count += 1
            self._idle.append(first)

    def invoke(self, event: Any) -> Any:
        request_id = str(uuid.uuid4())
        current = self._acquire()
        started = time.monotonic()
        try:
            current.conn.send({"request_id": request_id, "event": json.dumps(event)})
            if not current.conn.poll(self.fn.timeout + 1):
                self._discard(current)
                current = None
                raise FunctionTimeout(self.fn.logical_id, "Sandbox.Timedout",
                                      f"Task timed out after {self.fn.timeout:.2f} seconds")
            answer = current.conn.recv()
        except (EOFError, OSError) as exc:
            if current is not None:
                self._discard(current)
                current = None
            raise FunctionError(self.fn.logical_id, "Runtime.ExitError", f"the worker process died: {exc}") from exc
        finally:
            if current is not None:
                self._release(current)
        log.debug("%s invoked in %.0f ms", self.fn.logical_id, (time.monotonic() - started) * 1000)
        if not answer["ok"]:
            error = answer["error"]
            raise FunctionError(self.fn.logical_id, error["errorType"], error["errorMessage"], error["stackTrace"])
        return json.loads(answer["result"])

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._idle = self._idle, []
            self._lock.notify_all()
        for item in workers:
            self._shutdown(item)

    def _spawn(self) -> _Worker:
        """A fresh interpreter (not a fork: the parent runs threads) talking over a socket pair."""
        parent_socket, child_socket = socket.socketpair()
        process = subprocess.Popen(
            [sys.executable, "-m", "chatbridge.local.worker", str(child_socket.fileno())],
            pass_fds=[child_socket.fileno()], stdin=subprocess.DEVNULL, start_new_session=False)
        child_socket.close()
        parent = Connection(parent_socket.detach())
        parent.send(self._spec)
        try:
            ready = parent.recv() if parent.poll(60) else {"ready": False, "error": {
                "errorType": "Runtime.InitTimeout", "errorMessage": "the handler did not import within 60 s",
                "stackTrace": []}}
        except EOFError:
            ready = {"ready": False, "error": {"errorType": "Runtime.ExitError",
                                               "errorMessage": "the worker exited while importing", "stackTrace": []}}
        if not ready["ready"]:
            process.kill()
            process.wait(5)
            parent.close()
            error = ready["error"]
            raise FunctionError(self.fn.logical_id, error["errorType"],
                                f"cannot import handler {self.fn.handler} from {self.fn.code_dir}: "
                                f"{error['errorMessage']}", error["stackTrace"])
        return _Worker(process, parent)

    def _acquire(self) -> _Worker:
        with self._lock:
            while True:
                if self._closed:
                    raise FunctionError(self.fn.logical_id, "Runtime.Stopped", "the local stack is stopping")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.max_workers:
                    self._count += 1
                    break
                self._lock.wait()
        try:
            return self._spawn()
        except BaseException:
            with self._lock:
                self._count -= 1
                self._lock.notify()
            raise

    def _release(self, item: _Worker) -> None:
        with self._lock:
            if self._closed:
                self._count -= 1
            else:
                self._idle.append(item)
                self._lock.notify()
                return
        self._shutdown(item)

    def _discard(self, item: _Worker) -> None:
        item.process.kill()
        item.process.wait(5)
        item.conn.close()
        with self._lock:
            self._count -= 1
            self._lock.notify()

    @staticmethod
    def _shutdown(item: _Worker) -> None:
        try:
            item.conn.send(None)
        except OSError:
            pass
        try:
            item.process.wait(3)
        except subprocess.TimeoutExpired:
            item.process.kill()
            item.process.wait(3)
        item.conn.close()


def _lambda_environment(fn: FunctionDef, region: str) -> dict[str, str]:
    """The variables the Lambda runtime itself sets, which Powertools and boto3 read."""
    return {
        "AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}", "LAMBDA_TASK_ROOT": str(fn.code_dir),
        "_HANDLER": fn.handler,
    }
