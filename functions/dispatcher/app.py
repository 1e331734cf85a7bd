"""Dispatcher: one SQS job -> one outbound REST call, recorded as a delivery.

Retries are SQS's: a job to retry has its visibility set to the backoff delay and is reported as a
batch item failure, so SQS hands it out again later (``ApproximateReceiveCount`` is the attempt number).
Jobs that fail for good are moved to the DLQ by the pipeline; the queue's redrive policy is the backstop
for jobs that crash the function.
"""


from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chatbridge.reply.dispatch import DispatchJob
from chatbridge.reply.pipeline import deliver
from chatbridge.repository import queue
from chatbridge.repository.reply_storage import reply_storage
from chatbridge.settings import settings

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class RetryLater(Exception):
    """Reported as a batch item failure: SQS redelivers the job once its visibility delay ends."""


def record_handler(record: SQSRecord) -> None:
    attempt = int(record.attributes.approximate_receive_count or 1)
    try:
        job = DispatchJob.model_validate_json(record.body)
        verdict = deliver(job, reply_storage(), attempt=attempt,
                          max_attempts=settings().max_attempts)
    except Exception:
        logger.exception("dispatch job failed; SQS will redeliver it (then the DLQ)",
                         extra={"message_id": record.message_id, "attempt": attempt})
        raise
    logger.info("dispatch attempt", extra={"job_id": job.job_id, "chat_id": job.chat_id, "attempt": attempt,
                                           "outcome": verdict.outcome, "reason": verdict.reason})
    if verdict.outcome == "retry":
        queue.delay(record.receipt_handle, verdict.delay_seconds)
        raise RetryLater(f"job {job.job_id}: {verdict.reason}; retry in {verdict.delay_seconds}s")


def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
