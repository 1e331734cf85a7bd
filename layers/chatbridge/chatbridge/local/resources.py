"""Creating the template's DynamoDB tables and SQS queues on moto, from their CloudFormation properties."""

from __future__ import annotations

import json
from typing import Any

from chatbridge.local.template import LocalTemplate, QueueDef, TableDef

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput",
               "LocalSecondaryIndexes", "GlobalSecondaryIndexes", "Tags")
_QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
                     "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "FifoQueue",
                     "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")


def create_table(dynamodb: Any, table: TableDef) -> dict[str, str]:
    """Create one table; returns its attributes (Ref, Arn, StreamArn) as moto assigned them."""
    props = table.properties
    request: dict[str, Any] = {key: props[key] for key in _TABLE_KEYS if key in props}
    request["TableName"] = table.name
    request.setdefault("BillingMode", "PAY_PER_REQUEST")
    if table.stream_view_type:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
    sse = props.get("SSESpecification")
    if sse:
        request["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled", False))}
    description = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled", False)).lower() == "true":
        dynamodb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={
            "AttributeName": ttl["AttributeName"], "Enabled": True})
    attributes = {"Ref": table.name, "Arn": description["TableArn"]}
    if description.get("LatestStreamArn"):
        attributes["StreamArn"] = description["LatestStreamArn"]
    return attributes


def create_queue(sqs: Any, queue: QueueDef, dead_letter_arn: str | None) -> dict[str, str]:
    attributes = {key: _text(queue.properties[key]) for key in _QUEUE_ATTRIBUTES if key in queue.properties}
    if dead_letter_arn:
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dead_letter_arn,
                                                  "maxReceiveCount": queue.max_receive_count})
    url = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Ref": url, "Arn": arn, "QueueName": queue.name, "QueueUrl": url}


def create_all(template: LocalTemplate, dynamodb: Any, sqs: Any, ssm: Any = None,
               s3: Any = None) -> dict[str, dict[str, str]]:
    """Create every table, queue (dead-letter queues first), SSM parameter and bucket of the template.

    Returns the created resources' attributes (Ref, Arn...) by logical id.
    """
    created: dict[str, dict[str, str]] = {}
    for parameter in template.parameters.values():
        if ssm is not None:
            ssm.put_parameter(Name=parameter["Name"], Type=parameter["Type"], Value=parameter["Value"] or " ",
                              Overwrite=True)
    for logical_id, bucket in template.buckets.items():
        if s3 is not None:
            s3.create_bucket(Bucket=bucket)
            created[logical_id] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}", "Bucket": bucket}
    for table in template.tables.values():
        created[table.logical_id] = create_table(dynamodb, table)
    pending = dict(template.queues)
    while pending:
        ready = [q for q in pending.values() if q.dead_letter_logical_id is None or q.dead_letter_logical_id in created]
        if not ready:
            raise ValueError(f"queues redrive to each other in a cycle: {sorted(pending)}")
        for queue in ready:
            dead_letter = created[queue.dead_letter_logical_id]["Arn"] if queue.dead_letter_logical_id else None
            created[queue.logical_id] = create_queue(sqs, queue, dead_letter)
            del pending[queue.logical_id]
    return created


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
