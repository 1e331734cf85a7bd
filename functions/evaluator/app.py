"""Webhook evaluator: chat table stream -> dispatch jobs on SQS.

The template's event filter sends only chat inserts/modifies and message inserts here. A record that
fails (chat unreadable, SQS down) is reported alone as a batch item failure; replaying it is safe because
job ids are deterministic and the dispatcher skips jobs already sent. When Lambda gives up on it (retries
spent, or the record too old), the trigger's on-failure destination (StreamFailureQueue) gets where it was,
and ``chatbridge deliveries redrive --stream`` runs it through this same ``evaluate_record`` again
(``chatbridge.reply.stream_redrive``).
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chatbridge.reply.pipeline import evaluate_record
from chatbridge.repository.reply_storage import reply_storage

logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def record_handler(record: DynamoDBRecord) -> None:
    try:
        jobs = evaluate_record(record.raw_event, reply_storage())
    except Exception:
        logger.exception("stream record failed; it will be retried", extra={"event_id": record.event_id})
        raise
    if jobs:
        logger.info("queued dispatch jobs", extra={"event_id": record.event_id,
                                                   "jobs": [(job.job_id, job.webhook_id) for job in jobs]})


def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
