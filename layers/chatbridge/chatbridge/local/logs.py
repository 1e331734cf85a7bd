"""Readable log lines for the local stack.

Powertools Logger writes one JSON object per line, which is right for CloudWatch and tiring to read in a
terminal. Each function worker's stdout goes through ``ReadableStream``, which turns those objects into
``12:00:01 INFO  [Ingest] message key=value`` lines and leaves everything else alone.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from datetime import datetime
from typing import Any, TextIO

_STANDARD_KEYS = {
    "level", "message", "timestamp", "service", "location", "cold_start", "function_name",
    "function_memory_size", "function_arn", "function_request_id", "xray_trace_id", "sampling_rate",
    "exception", "exception_name", "stack_trace", "correlation_id",
}


def readable(line: str, source: str) -> str:
    """One Powertools JSON log line as text; anything that is not such a line is returned unchanged."""
    stripped = line.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return line
    try:
        entry = json.loads(stripped)
    except ValueError:
        return line
    if not isinstance(entry, dict) or "level" not in entry or "message" not in entry:
        return line
    message = entry["message"]
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False, default=str)
    extras = " ".join(
        f"{key}={_compact(value)}" for key, value in entry.items() if key not in _STANDARD_KEYS
    )
    text = f"{_clock(entry.get('timestamp'))} {str(entry['level']):<5} [{source}] {message}"
    if extras:
        text += f"  {extras}"
    if entry.get("exception"):
        text += "\n    " + str(entry["exception"]).replace("\n", "\n    ")
    return text + "\n"


def _compact(value: Any) -> str:
    if isinstance(value, str) and " " not in value:
        return value
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _clock(timestamp: Any) -> str:
    if isinstance(timestamp, str):
        try:
            return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S")
        except ValueError:
            pass
    return datetime.now().strftime("%H:%M:%S")


class ReadableStream(io.TextIOBase):
    """A text stream that rewrites complete Powertools JSON lines before passing them on."""

    def __init__(self, target: TextIO, source: str) -> None:
        super().__init__()
        self._target = target
        self._source = source
        self._pending = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            while "\n" in self._pending:
                line, self._pending = self._pending.split("\n", 1)
                self._target.write(readable(line + "\n", self._source))
            self._target.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._target.write(readable(self._pending, self._source))
                self._pending = ""
            self._target.flush()


def configure_stack_logging(*, json_logs: bool, level: str = "INFO") -> logging.Logger:
    """The stack's own logger ("chatbridge.local"): readable lines, or JSON lines with --json-logs."""
    logger = logging.getLogger("chatbridge.local")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_JsonFormatter() if json_logs else _TextFormatter())
    logger.addHandler(handler)
    return logger


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        text = f"{clock} {record.levelname:<5} [local] {record.getMessage()}"
        if record.exc_info:
            text += "\n    " + self.formatException(record.exc_info).replace("\n", "\n    ")
        return text


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"level": record.levelname, "message": record.getMessage(), "service": "chatbridge-local",
                 "timestamp": datetime.fromtimestamp(record.created).astimezone().isoformat()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
