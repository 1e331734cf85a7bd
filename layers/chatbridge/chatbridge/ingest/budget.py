"""One webhook request's time, bounded by API Gateway's: the gateway answers 504 at 29 s while Lambda goes on.

A provider that saw a 504 retries (or gives up) without knowing what was stored, while the function keeps
writing. So the request's work has a deadline, ``INGEST_BUDGET_SECONDS`` (25) from its start, or less when the
Lambda context says less is left: media fetches get what remains of it after a reserve for the writes
(and never more than ``MEDIA_FETCH_BUDGET_SECONDS``), and no chat is written once it has passed. The request
then answers 503 (``BudgetSpent`` is transient): what was stored stays stored, and the provider's retry
stores the rest exactly once, since every message is deduplicated. The function's own timeout (29 s) is the
backstop for a single call that hangs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chatbridge.errors import ChatbridgeError
from chatbridge.settings import settings

WRITE_RESERVE_SECONDS = 4.0  # kept from the media fetches for the writes: a 1,000-message batch is ~21 transactions
CONTEXT_MARGIN_SECONDS = 2.0  # answered this long before Lambda itself would stop the function


class BudgetSpent(ChatbridgeError):
    """The request's time ran out before everything was stored: answer 503, the retry stores the rest."""

    transient = True  # chatbridge.repository.failures: a retry can fix it


class Deadline:
    """A point in (monotonic) time the request's work must finish by."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + max(0.0, seconds)

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    def media_budget(self) -> float:
        """What the media fetches may take: the configured budget, within what is left after the write reserve.

        ``BudgetSpent`` when nothing is left: a fetch given no time would store its message without the file for
        good (a retried delivery never fetches again), whereas nothing is stored yet and the retry can do it all.
        """
        budget = min(settings().media_fetch_budget_seconds, self.remaining() - WRITE_RESERVE_SECONDS)
        if budget <= 0:
            raise BudgetSpent("the request's time budget ran out before its files were fetched; retry it "
                              "(nothing was stored)")
        return budget

    def check(self, doing: str) -> None:
        if self.remaining() <= 0:
            raise BudgetSpent(f"the request's time budget ran out before {doing}; retry it (what was stored "
                              "stays stored, and a retry stores the rest once)")


def request_deadline(context: Any = None) -> Deadline:
    """``INGEST_BUDGET_SECONDS`` from now, or less when the Lambda context has less left."""
    seconds = settings().ingest_budget_seconds
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining_ms):
        try:
            seconds = min(seconds, remaining_ms() / 1000 - CONTEXT_MARGIN_SECONDS)
        except (TypeError, ValueError):
            pass
    return Deadline(seconds)
