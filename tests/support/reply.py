"""moto resources for the reply path: chat/config/delivery tables, dispatch queue and DLQ, env vars."""

from __future__ import annotations

import time

import boto3
import pytest
from moto import mock_aws

from chatbridge.repository import outgoing, reply_storage, specs
from chatbridge.repository.caches import forget_all

MAX_RECEIVE_COUNT = 8


@pytest.fixture
def reply_aws(monkeypatch):
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        keys = {"AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "sk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "BillingMode": "PAY_PER_REQUEST"}
        dynamodb.create_table(TableName="config", **keys)
        dynamodb.create_table(TableName="chats", StreamSpecification={"StreamEnabled": True,
                                                                      "StreamViewType": "NEW_AND_OLD_IMAGES"}, **keys)
        dynamodb.create_table(TableName="deliveries", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "chat_id", "AttributeType": "N"},
                                                    {"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "chat_id", "KeyType": "HASH"},
                                         {"AttributeName": "id", "KeyType": "RANGE"}])
        sqs = boto3.client("sqs")
        dlq_url = sqs.create_queue(QueueName="dispatch-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_url = sqs.create_queue(QueueName="dispatch", Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "{MAX_RECEIVE_COUNT}"}}'})[
            "QueueUrl"]
        for name, value in {"CONFIG_TABLE": "config", "CHAT_TABLE": "chats", "DELIVERY_TABLE": "deliveries",
                            "DISPATCH_QUEUE_URL": queue_url, "DISPATCH_DLQ_URL": dlq_url,
                            "CHATBRIDGE_OUTBOUND_ALLOW": "127.0.0.1"}.items():
            monkeypatch.setenv(name, value)
        forget_all()
        _store_openwa_spec()
        yield {"chat_table": "chats", "queue_url": queue_url, "dlq_url": dlq_url}
        forget_all()


_next_chat_id = iter(range(1000, 10**9))


def create_chat(*, external_id: str, identifier: str, scope: str = "whatsapp", iwh_id: int = 1,
                chat_id: int | None = None) -> int:
    """A stored chat as the ingest path creates it."""
    chat_id = next(_next_chat_id) if chat_id is None else chat_id
    now = int(time.time())
    reply_storage.chat_table().put_item(Item={
        **reply_storage._chat_key(chat_id), "type": "chat", "id": chat_id, "status": "pending", "nick": "Aisha",
        "phone": "447700900000", "email": None, "user_id": 0, "iwh_id": iwh_id, "chat_variables": {"iwh_id": iwh_id},
        "incoming_chat": {"chat_external_id": external_id, "incoming": {"id": iwh_id, "identifier": identifier,
                                                                        "name": identifier, "scope": scope}},
        "created_at": now, "updated_at": now, "raw": {"from": external_id}, "last_message_id": 0})
    return chat_id


def messages_of(chat_id: int) -> list[dict]:
    from boto3.dynamodb.conditions import Key

    items = reply_storage.chat_table().query(
        KeyConditionExpression=Key("pk").eq(reply_storage._chat_key(chat_id)["pk"]) & Key("sk").begins_with("MSG#"),
        ConsistentRead=True)["Items"]
    return [outgoing.plain(item) for item in items]


def _store_openwa_spec() -> None:
    """The seed's open-wa spec as spec id 1, so chats made by ``create_chat`` resolve their spec."""
    from chatbridge.local.seed import OPENWA_SPEC
    from chatbridge.spec.model import IncomingWebhookSpec

    stored, _ = specs.save_spec(IncomingWebhookSpec.model_validate({**OPENWA_SPEC, "chat_id_template": "{chat_id}@c.us"}))
    assert stored.id == 1, "create_chat links chats to spec id 1"
