"""Dispatcher: one SQS job -> one outbound REST call, recorded as a delivery.

Retries are SQS's: a job to retry has its visibility set to the backoff delay and is reported as a
batch item failure, so SQS hands it out again later (``ApproximateReceiveCount`` is the attempt number).
Jobs that fail for good are moved to the DLQ by the pipeline; the queue's redrive policy is the backstop
for jobs that crash the function.
"""


from aws_lambda_powertools import Logger

# what every job needs, loaded at init rather than inside the first job (``chatbridge.reply.pipeline`` imports
# per function: the stream record's events and the rules, evaluator-only, are never loaded here)
import chatbridge.outbound.url_guard  # noqa: F401
import chatbridge.reply.rest_api  # noqa: F401
from chatbridge.reply.batch import partial_response, queue_message_id
from chatbridge.reply.dispatch import DispatchJob
from chatbridge.reply.pipeline import deliver
from chatbridge.repository import queue
from chatbridge.repository.reply_storage import reply_storage
from chatbridge.settings import settings

logger = Logger()


class RetryLater(Exception):
    """Reported as a batch item failure: SQS redelivers the job once its visibility delay ends."""


def record_handler(record: dict) -> None:
    attempt = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
    try:
        job = DispatchJob.model_validate_json(record["body"])
        verdict = deliver(job, reply_storage(), attempt=attempt,
                          max_attempts=settings().max_attempts)
    except Exception:
        logger.exception("dispatch job failed; SQS will redeliver it (then the DLQ)",
                         extra={"message_id": record.get("messageId"), "attempt": attempt})
        raise
    logger.info("dispatch attempt", extra={"job_id": job.job_id, "chat_id": job.chat_id, "attempt": attempt,
                                           "outcome": verdict.outcome, "reason": verdict.reason})
    if verdict.outcome == "retry":
        queue.delay(record["receiptHandle"], verdict.delay_seconds)
        raise RetryLater(f"job {job.job_id}: {verdict.reason}; retry in {verdict.delay_seconds}s")


def lambda_handler(event: dict, context: object) -> dict:
    return partial_response(event, record_handler, queue_message_id)
