"""Fault injection into the real boto3 clients the repository uses, through botocore's own event hooks.

Nothing in chatbridge is mocked: the repository makes its real calls on its real (moto-backed) client, and
``Faults`` answers chosen calls the way AWS does when it throttles, cancels a transaction or loses a
response. A ``before-call`` handler that returns ``(http, parsed)`` replaces the request, so botocore itself
raises the modeled ``ClientError`` (``ProvisionedThroughputExceededException`` with its code and message,
``TransactionCanceledException`` with ``CancellationReasons``). An ``after-call`` handler that raises models
a response lost *after* AWS applied the write (a timeout on the way back).

    faults = Faults(tables.client())
    faults.fail("TransactWriteItems", "ProvisionedThroughputExceededException", nth=3)   # the 3rd call only
    faults.conflict("TransactWriteItems", times=2)                                      # next 2 calls
    faults.lose_response("TransactWriteItems", nth=1)
    faults.cancel("ValidationError", item=0, times=5)  # DynamoDB refuses the transaction's first item
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from botocore.exceptions import ReadTimeoutError

MESSAGES = {
    "ProvisionedThroughputExceededException": "The level of configured provisioned throughput for the table was "
                                              "exceeded. Consider increasing your provisioning level with the "
                                              "UpdateTable API.",
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
    "RequestLimitExceeded": "Throughput exceeds the current throughput limit for your account.",
    "InternalServerError": "Internal server error",
    "ServiceUnavailable": "Service unavailable",
    "ValidationException": "Item size has exceeded the maximum allowed size",
}


@dataclass
class _Rule:
    operation: str
    action: str  # "error", "conflict", "cancel" or "lose"
    code: str = ""
    nth: set[int] | None = None  # 1-based call numbers of that operation; None: the next ``times`` calls
    times: int = 0
    when: Callable[[dict[str, Any]], bool] | None = None  # on the request body (JSON) of the call
    item: int = 0  # "cancel": the transaction item the reason names
    fired: int = 0

    def applies(self, number: int, body: dict[str, Any]) -> bool:
        if self.when is not None and not self.when(body):
            return False
        if self.nth is not None:
            return number in self.nth
        return self.fired < self.times


@dataclass
class Faults:
    """Attach to a botocore client; every call is counted per operation (``calls``) and kept (``requests``)."""

    client: Any
    calls: Counter = field(default_factory=Counter)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    injected: list[tuple[str, str]] = field(default_factory=list)
    _rules: list[_Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        events = self.client.meta.events
        events.register_first("before-call", self._before, unique_id=f"faults-before-{id(self)}")
        events.register_first("after-call", self._after, unique_id=f"faults-after-{id(self)}")

    def detach(self) -> None:
        self.client.meta.events.unregister("before-call", unique_id=f"faults-before-{id(self)}")
        self.client.meta.events.unregister("after-call", unique_id=f"faults-after-{id(self)}")

    # -- what to inject ------------------------------------------------------------------------------
    def fail(self, operation: str, code: str, *, nth: int | list[int] | None = None, times: int = 1,
             when: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Answer the call with AWS error ``code`` (HTTP 400 as DynamoDB sends throttling, 500 for 5xx codes)."""
        self._rules.append(_Rule(operation, "error", code, _numbers(nth), times, when))

    def conflict(self, operation: str = "TransactWriteItems", *, nth: int | list[int] | None = None,
                 times: int = 1, when: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Cancel the transaction as DynamoDB does when another transaction holds one of its items."""
        self._rules.append(_Rule(operation, "conflict", "TransactionCanceledException", _numbers(nth), times, when))

    def cancel(self, reason: str, *, item: int = 0, operation: str = "TransactWriteItems",
               nth: int | list[int] | None = None, times: int = 1,
               when: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Cancel the transaction with ``reason`` for item ``item`` and ``None`` for the others, as DynamoDB does
        when it refuses one item (``ValidationError``: a type mismatch, an item over 400 KB)."""
        self._rules.append(_Rule(operation, "cancel", reason, _numbers(nth), times, when, item=item))

    def lose_response(self, operation: str, *, nth: int | list[int] | None = None, times: int = 1,
                      when: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Let the call reach AWS and apply, then time out reading the answer."""
        self._rules.append(_Rule(operation, "lose", "ReadTimeout", _numbers(nth), times, when))

    def clear(self) -> None:
        self._rules.clear()

    def sent(self, operation: str) -> list[dict[str, Any]]:
        """The request bodies of every call of ``operation`` so far (faulted ones included)."""
        return [body for name, body in self.requests if name == operation]

    # -- botocore hooks ------------------------------------------------------------------------------
    def _match(self, operation: str, number: int, body: dict[str, Any], actions: tuple[str, ...]) -> _Rule | None:
        for rule in self._rules:
            if rule.operation == operation and rule.action in actions and rule.applies(number, body):
                rule.fired += 1
                self.injected.append((operation, rule.code))
                return rule
        return None

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        operation = model.name
        self.calls[operation] += 1
        context["faults_call_number"] = self.calls[operation]
        body = _json(params.get("body"))
        context["faults_body"] = body
        self.requests.append((operation, body))
        rule = self._match(operation, self.calls[operation], body, ("error", "conflict", "cancel"))
        if rule is None:
            return None
        if rule.action in ("conflict", "cancel"):
            items = body.get("TransactItems") or [{}]
            reasons = [{"Code": "None"}] * len(items)
            if rule.action == "conflict":
                reasons[0] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
            else:
                reasons[min(rule.item, len(items) - 1)] = {"Code": rule.code, "Message": "One or more parameter "
                                                           "values were invalid: Type mismatch for attribute"}
            codes = ", ".join(reason["Code"] for reason in reasons)
            return _answer(400, "TransactionCanceledException", f"Transaction cancelled, please refer cancellation reasons for specific "
                                           f"reasons [{codes}]", CancellationReasons=reasons)
        status = 500 if rule.code in ("InternalServerError", "ServiceUnavailable") else 400
        return _answer(status, rule.code, MESSAGES.get(rule.code, rule.code))

    def _after(self, model: Any, context: dict[str, Any], http_response: Any, **_: Any) -> None:
        number = context.get("faults_call_number")
        if number is None or getattr(http_response, "status_code", 500) >= 300:
            return
        if self._match(model.name, number, context.get("faults_body") or {}, ("lose",)) is not None:
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")


def _numbers(nth: int | list[int] | None) -> set[int] | None:
    if nth is None:
        return None
    return {nth} if isinstance(nth, int) else set(nth)


def _json(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str) and body.startswith("{"):
        try:
            return json.loads(body)
        except ValueError:
            return {}
    return {}


def _answer(status: int, code: str, message: str, **extra: Any) -> tuple[Any, dict[str, Any]]:
    http = SimpleNamespace(status_code=status, headers={}, content=b"", text="")
    return http, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status},
                  **extra}
