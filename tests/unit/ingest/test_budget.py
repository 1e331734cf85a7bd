"""A webhook request's time budget (ingest.budget): inside API Gateway's 29 s, media fetches within it."""

import pytest

from chatbridge.ingest.budget import WRITE_RESERVE_SECONDS, BudgetSpent, Deadline, request_deadline
from chatbridge.repository.failures import retry_can_fix


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Context:
    def __init__(self, remaining_ms):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self):
        return self.remaining_ms


def test_media_fetches_get_the_configured_budget_when_the_request_has_time(monkeypatch):
    monkeypatch.setenv("MEDIA_FETCH_BUDGET_SECONDS", "20")
    assert Deadline(25, clock=Clock()).media_budget() == 20


def test_media_fetches_get_what_is_left_after_the_write_reserve(monkeypatch):
    monkeypatch.setenv("MEDIA_FETCH_BUDGET_SECONDS", "20")
    clock = Clock()
    deadline = Deadline(25, clock=clock)
    clock.now += 15
    assert deadline.media_budget() == pytest.approx(10 - WRITE_RESERVE_SECONDS)


def test_no_time_left_for_the_fetches_is_a_transient_failure_not_files_stored_without_content():
    clock = Clock()
    deadline = Deadline(WRITE_RESERVE_SECONDS, clock=clock)
    with pytest.raises(BudgetSpent, match="nothing was stored") as raised:
        deadline.media_budget()
    assert retry_can_fix(raised.value)  # answered 503: the provider retries


def test_the_check_passes_until_the_deadline_then_says_what_was_not_done():
    clock = Clock()
    deadline = Deadline(2, clock=clock)
    deadline.check("chat 'a' was written")
    clock.now += 2
    with pytest.raises(BudgetSpent, match="before chat 'a' was written; retry it"):
        deadline.check("chat 'a' was written")


def test_the_request_deadline_is_the_budget_or_less_when_lambda_has_less_left(monkeypatch):
    monkeypatch.setenv("INGEST_BUDGET_SECONDS", "25")
    assert 24.5 < request_deadline(None).remaining() <= 25
    assert 24.5 < request_deadline(Context(60_000)).remaining() <= 25
    assert 2.5 < request_deadline(Context(5_000)).remaining() <= 3  # 2 s before Lambda would stop it
