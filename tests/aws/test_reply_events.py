"""The sample events in events/ (for `sam local invoke` and `chatbridge local` invoke) work with the handlers."""

import json

import boto3

from chatbridge.local.seed import seed_document
from chatbridge.reply.rest_api import RestApi
from chatbridge.reply.webhooks import OutgoingWebhook
from chatbridge.repository import deliveries, outgoing
from support.lambda_context import Context
from support.paths import ROOT
from support.pipeline import load_handler
from support.reply import create_chat


def sample(name):
    return json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))


def store_seed(url):
    document = seed_document(url)
    outgoing.put_rest_api(RestApi.model_validate(document["rest_apis"][0]))
    outgoing.put_webhook(OutgoingWebhook.model_validate(document["webhooks"][0]))


def test_evaluator_sample_event_queues_one_job(reply_aws):
    event = sample("evaluator_operator_message.json")
    chat_id = int(event["Records"][0]["dynamodb"]["NewImage"]["chat_id"]["N"])
    store_seed("https://wa.example.com")
    create_chat(external_id="447700900000@c.us", identifier="openwa-demo", chat_id=chat_id)
    assert load_handler("evaluator").lambda_handler(event, Context()) == {"batchItemFailures": []}
    [message] = boto3.client("sqs").receive_message(QueueUrl=reply_aws["queue_url"])["Messages"]
    assert json.loads(message["Body"])["args"]["msg"]["msg"] == "Your order is on its way"
    assert [d.status for d in deliveries.list_for_chat(chat_id)] == ["queued"]


def test_dispatcher_sample_event_sends_the_job(reply_aws, httpserver):
    event = sample("dispatcher_job.json")
    job = json.loads(event["Records"][0]["body"])
    store_seed(httpserver.url_for(""))
    httpserver.expect_oneshot_request("/sendText", json={"chatId": "447700900000@c.us",
                                                         "body": "Your order is on its way"}).respond_with_data("ok")
    assert load_handler("dispatcher").lambda_handler(event, Context()) == {"batchItemFailures": []}
    httpserver.check_assertions()
    assert deliveries.get(job["chat_id"], job["job_id"]).status == "sent"
