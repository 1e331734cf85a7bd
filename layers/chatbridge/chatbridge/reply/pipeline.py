"""The reply pipeline: stream record -> dispatch jobs (evaluator), dispatch job -> HTTP call (dispatcher).

Storage is reached through ``ReplyStorage`` so the order of side effects, which is what makes the
pipeline safe to retry, reads in one place:

* evaluator: the (cached) rules for the record's event first, so a record no rule listens to costs no
  chat read; the chat from the message's ``chat_snapshot`` (an operator's reply carries it), else read; then
  delivery records ``queued`` (create-if-absent) and message ``delivery`` = ``queued`` (one transaction in
  the repository), then enqueue. A replayed record re-enqueues the same job ids; the dispatcher skips jobs
  already sent.
* dispatcher: claim the delivery (conditional write), render, send, record the attempt, then set the
  message's ``delivery`` state (a sent reply's id at the provider, from its ``response_message_id``, in the
  same write; after a send the attempt and the message are one transaction in the repository, whose failure
  still leaves the attempt recorded), then the id's dedup item, by which the provider's receipts find the
  reply and move it on to ``delivered`` and ``read``. Jobs that fail for good (4xx, refused URL, missing REST API or secret,
  retries exhausted) are recorded ``failed`` and moved to the dead-letter queue.
* operator Retry (``retry_jobs``): the failed jobs of one message, rebuilt as the evaluator built them; the
  admin route flips each delivery ``failed`` -> ``queued`` (conditional: once), the message to ``queued``, and
  enqueues, so the dispatcher above really sends again and its ``sent`` is the only way to ``sent``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatbridge.errors import ChatbridgeError, StoredDefinitionInvalid
from chatbridge.reply.dispatch import (
    DispatchJob,
    HttpResult,
    Verdict,
    judge,
    redacted_request,
    send,
    sent_message_id,
)

if TYPE_CHECKING:  # each function imports what only it needs: the evaluator never renders, the dispatcher never
    # reads a stream record (bench/cold_start.py)
    from chatbridge.reply.rest_api import RestApi
    from chatbridge.reply.webhooks import OutgoingWebhook

LEASE_SECONDS = 120
BUSY_RETRY_SECONDS = 30


class ChatNotFound(ChatbridgeError, LookupError):
    """A message record names a chat that cannot be read: the record is retried, never dropped."""


@dataclass
class ReplyStorage:
    """The storage operations the pipeline needs (bound to the repository in production)."""

    get_chat: Callable[[int], dict[str, Any] | None]
    webhooks_for: Callable[[str], list[OutgoingWebhook]]
    record_queued: Callable[[DispatchJob], None]
    # (chat, message, state, provider id of a sent reply or None) -> whether that id was written with the state
    set_message_delivery: Callable[[int, int, str, str | None], bool]
    enqueue: Callable[[list[DispatchJob]], None]
    claim: Callable[[DispatchJob, int], str]
    get_rest_api: Callable[[str], RestApi | None]
    spec_context: Callable[[Any], tuple[dict[str, Any], str | None]]   # iwh_id -> (attributes, chat_id_template)
    resolve_secrets: Callable[[list[str]], dict[str, str]]
    record_attempt: Callable[..., None]
    dead_letter: Callable[[DispatchJob], None]
    add_system_message: Callable[[int, str], None]
    # a sent reply's id at the provider (the REST API's response_message_id): kept so receipts find the reply
    # (job, provider id, whether set_message_delivery already put it on the message)
    link_provider_message_id: Callable[[DispatchJob, str, bool], None] = field(
        default=lambda job, provider_id, on_message: None)
    # one message's jobs: their ``queued`` records and the message's ``queued`` in one write (the repository: one
    # transaction); None: ``record_queued`` per job, then ``set_message_delivery``
    record_queued_jobs: Callable[[list[DispatchJob]], None] | None = None
    # a reply that went through: ``record_attempt`` (sent) and ``set_message_delivery`` (sent, the provider id) in
    # one write (the repository: one transaction); (job, provider id, **attempt) -> whether the id rode on it.
    # None: the two calls, in that order
    record_sent: Callable[..., bool] | None = None


def jobs_for_record(record: dict[str, Any], storage: ReplyStorage) -> list[DispatchJob]:
    """The dispatch jobs one stream record causes (none for records that fire no event or match no rule).

    The rules come first: they are cached, the chat is not, so an event nobody listens to (a visitor message
    when only operator messages have webhooks) is settled without a request."""
    from chatbridge.reply.events import build_args, event_of

    event = event_of(record)
    if event is None:
        return []
    listening = storage.webhooks_for(event.name)
    if not listening:
        return []  # no rule listens to the event: nothing to evaluate, so the chat is not read (warm: no request)
    chat = event.chat if event.chat is not None else storage.get_chat(event.chat_id)
    if chat is None:
        raise ChatNotFound(f"chat {event.chat_id} of a {event.name} record cannot be read")
    args = build_args(chat, event.message)
    rules = [rule for rule in listening if rule.matches(event.name, args)]
    message_id = event.message["id"] if event.message is not None else None
    return [DispatchJob.create(event=event.name, chat_id=event.chat_id, message_id=message_id, webhook_id=rule.id,
                               rest_api_id=rule.rest_api_id, args=args) for rule in rules]


def retry_jobs(chat: dict[str, Any], message: dict[str, Any], deliveries: list[Any]) -> list[DispatchJob]:
    """The dispatch jobs to send again for a message's ``failed`` deliveries: same job ids (chat, message,
    webhook, event), so the dispatcher's claim still guards against a double send, with ``args`` read now."""
    from chatbridge.reply.events import build_args

    args = build_args(chat, message)
    return [DispatchJob.create(event=delivery.event, chat_id=int(chat["id"]), message_id=int(message["id"]),
                               webhook_id=delivery.webhook_id, rest_api_id=delivery.rest_api_id, args=args)
            for delivery in deliveries if delivery.status == "failed" and delivery.message_id == message["id"]]


def evaluate_record(record: dict[str, Any], storage: ReplyStorage) -> list[DispatchJob]:
    """Queue a record's jobs; raising leaves the record to be retried (and re-queued under the same ids)."""
    jobs = jobs_for_record(record, storage)
    if not jobs:
        return jobs
    if jobs[0].message_id is not None and storage.record_queued_jobs is not None:
        storage.record_queued_jobs(jobs)
    else:
        for job in jobs:
            storage.record_queued(job)
        if jobs[0].message_id is not None:
            storage.set_message_delivery(jobs[0].chat_id, jobs[0].message_id, "queued", None)
    storage.enqueue(jobs)
    return jobs


def deliver(job: DispatchJob, storage: ReplyStorage, *, attempt: int, max_attempts: int,
            allow: str | None = None) -> Verdict:
    """One attempt at a job. Returns the verdict; ``retry`` tells the caller to delay and keep the message."""
    claimed = storage.claim(job, LEASE_SECONDS)
    if claimed == "sent":
        if job.message_id is not None:  # the attempt that sent it may have died before saying so on the message
            storage.set_message_delivery(job.chat_id, job.message_id, "sent", None)
        return Verdict(outcome="sent", reason="already sent (duplicate job)")
    if claimed == "busy":
        return Verdict(outcome="retry", delay_seconds=BUSY_RETRY_SECONDS, reason="another attempt is in progress")
    rest_api, result, request_record = _attempt(job, storage, allow)
    verdict = judge(result, is_success=rest_api.is_success if rest_api else (lambda status: False), attempt=attempt)
    if verdict.outcome == "retry" and attempt >= max_attempts:
        verdict = Verdict(outcome="failed", reason=f"gave up after {attempt} attempts: {verdict.reason}")
    status = {"sent": "sent", "retry": "retrying", "failed": "failed"}[verdict.outcome]
    attempt_record = {"status_code": result.status, "response_excerpt": result.excerpt, "request": request_record,
                      "error": None if verdict.outcome == "sent" else verdict.reason, "duration_ms": result.duration_ms}
    provider_id = None
    if verdict.outcome == "sent" and job.message_id is not None and rest_api is not None and \
            rest_api.response_message_id:
        provider_id = sent_message_id(rest_api.response_message_id, result)
    on_message = False
    if verdict.outcome == "sent" and job.message_id is not None and storage.record_sent is not None:
        # the attempt and the message's ``sent`` (with the provider id) in one write; the attempt is never lost
        on_message = storage.record_sent(job, provider_id, **attempt_record)
    else:
        storage.record_attempt(job, status=status, **attempt_record)
        if verdict.outcome == "failed":
            storage.dead_letter(job)
        if job.message_id is not None and verdict.outcome != "retry":
            # a sent reply's provider id rides on its ``sent`` write (one request, not two)
            on_message = storage.set_message_delivery(job.chat_id, job.message_id, status, provider_id)
    if provider_id is not None:
        # the dedup item after ``sent`` is on the message: a receipt can find the reply only from here on, so it
        # never lands before the dispatcher's own ``sent`` (which would move it backwards)
        storage.link_provider_message_id(job, provider_id, on_message)
    if verdict.outcome == "sent" and rest_api is not None and rest_api.save_response_as_message and result.excerpt:
        storage.add_system_message(job.chat_id, result.excerpt)
    return verdict


def _attempt(job: DispatchJob, storage: ReplyStorage,
             allow: str | None) -> tuple[RestApi | None, HttpResult, dict[str, Any]]:
    """(the REST API, what the call returned, the request as a delivery records it). Whatever makes the call
    impossible (no REST API, one that fails today's checks, a missing secret) is a refusal: permanent."""
    from chatbridge.reply.rest_api import context_for

    try:
        rest_api = storage.get_rest_api(job.rest_api_id)
    except StoredDefinitionInvalid as exc:
        return None, HttpResult(refused=True, error=str(exc)), {}
    if rest_api is None:
        return None, HttpResult(refused=True, error=f"REST API {job.rest_api_id!r} does not exist (any more)"), {}
    try:
        attributes, chat_id_template = storage.spec_context(job.args.get("chat", {}).get("iwh_id"))
        secrets = storage.resolve_secrets(rest_api.secret_names()) if rest_api.secret_names() else {}
    except LookupError as exc:
        return rest_api, HttpResult(refused=True, error=str(exc)), {}
    request = rest_api.render(context_for(job.args, attributes=attributes, chat_id_template=chat_id_template,
                                          secrets=secrets))
    secret_headers = {name for name, value in rest_api.headers.items() if "ssm:" in value}
    return rest_api, send(request, allow=allow), redacted_request(request, secret_headers)
