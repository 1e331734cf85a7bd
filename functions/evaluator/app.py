"""Webhook evaluator: chat table stream -> dispatch jobs on SQS.

The template's event filter sends only chat inserts/modifies and message inserts here. A record that
fails (chat unreadable, SQS down) is reported alone as a batch item failure; replaying it is safe because
job ids are deterministic and the dispatcher skips jobs already sent. When Lambda gives up on it (retries
spent, or the record too old), the trigger's on-failure destination (StreamFailureQueue) gets where it was,
and ``chatbridge deliveries redrive --stream`` runs it through this same ``evaluate_record`` again
(``chatbridge.reply.stream_redrive``).
"""

from aws_lambda_powertools import Logger

# what every record needs, loaded at init rather than inside the first record (``chatbridge.reply.pipeline``
# imports per function: the renderer and URL guard, dispatcher-only, are never loaded here)
import chatbridge.reply.events  # noqa: F401
import chatbridge.reply.webhooks  # noqa: F401
from chatbridge.reply.batch import partial_response, stream_record_id
from chatbridge.reply.pipeline import evaluate_record
from chatbridge.repository.reply_storage import reply_storage

logger = Logger()


def record_handler(record: dict) -> None:
    try:
        jobs = evaluate_record(record, reply_storage())
    except Exception:
        logger.exception("stream record failed; it will be retried", extra={"event_id": record.get("eventID")})
        raise
    if jobs:
        logger.info("queued dispatch jobs", extra={"event_id": record.get("eventID"),
                                                   "jobs": [(job.job_id, job.webhook_id) for job in jobs]})


def lambda_handler(event: dict, context: object) -> dict:
    return partial_response(event, record_handler, stream_record_id)
