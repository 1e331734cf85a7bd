"""Admin routes of the reply path: webhooks, REST APIs, deliveries, operator replies."""

import json

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from chatbridge.admin.reply_routes import router
from chatbridge.local.seed import seed_document
from chatbridge.repository import reply_storage as storage
from support.lambda_context import Context
from support.pipeline import Pipeline
from support.reply import create_chat, messages_of

app = APIGatewayRestResolver()
app.include_router(router)


def call(method, path, body=None, query=None):
    event = {"resource": "/{proxy+}", "path": path, "httpMethod": method, "headers": {"Content-Type": "application/json"},
             "multiValueHeaders": {}, "queryStringParameters": query, "multiValueQueryStringParameters": None,
             "pathParameters": None, "stageVariables": None, "isBase64Encoded": False,
             "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": method, "path": path, "stage": "prod",
                                "requestId": "r", "identity": {"sourceIp": "127.0.0.1"}},
             "body": body if body is None or isinstance(body, str) else json.dumps(body)}
    response = app.resolve(event, Context())
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


@pytest.fixture
def seeded(reply_aws, httpserver):
    document = seed_document(httpserver.url_for(""))
    rest_api, webhook = document["rest_apis"][0], document["webhooks"][0]
    assert call("PUT", f"/admin/rest-apis/{rest_api['id']}", rest_api)[0] == 201
    assert call("PUT", f"/admin/webhooks/{webhook['id']}", webhook)[0] == 201
    return rest_api, webhook


def test_definitions_round_trip_and_replace(seeded):
    rest_api, webhook = seeded
    status, body = call("GET", f"/admin/rest-apis/{rest_api['id']}")
    assert status == 200 and body["body"] == rest_api["body"] and body["timeout"] == 10
    assert call("GET", "/admin/webhooks")[1]["webhooks"][0]["conditions"] == webhook["conditions"]
    assert call("PUT", f"/admin/webhooks/{webhook['id']}", {**webhook, "enabled": False})[0] == 200
    assert call("GET", f"/admin/webhooks/{webhook['id']}")[1]["enabled"] is False
    assert [api["id"] for api in call("GET", "/admin/rest-apis")[1]["rest_apis"]] == [rest_api["id"]]


def test_invalid_webhook_is_422_naming_field_and_clause(seeded):
    _, webhook = seeded
    status, body = call("PUT", "/admin/webhooks/w2", {**webhook, "id": "w2", "conditions": ["{args.chat.id} ~ 1"]})
    assert status == 422 and body["errors"][0]["field"] == "conditions" and "condition 1" in body["reason"]
    status, body = call("PUT", "/admin/webhooks/w3", {**webhook, "id": "w3", "rest_api_id": "nope"})
    assert status == 422 and "rest_api_id" in body["reason"]


def test_invalid_rest_api_is_422(reply_aws):
    status, body = call("PUT", "/admin/rest-apis/x", {"url": "https://api.example.com", "body": '{"a": {{msg}'})
    assert status == 422 and "not a JSON template" in body["reason"]


def test_bad_bodies_are_400(reply_aws):
    assert call("PUT", "/admin/rest-apis/x", "{nope")[0] == 400
    assert call("PUT", "/admin/rest-apis/x", {"id": "y", "url": "https://a.example"})[0] == 400
    assert call("PUT", "/admin/rest-apis/x", [1])[0] == 400


def test_unknown_items_are_404_and_used_rest_api_cannot_be_deleted(seeded):
    rest_api, webhook = seeded
    assert call("GET", "/admin/webhooks/none")[0] == 404
    assert call("DELETE", "/admin/rest-apis/none")[0] == 404
    assert call("DELETE", f"/admin/rest-apis/{rest_api['id']}")[0] == 409
    assert call("DELETE", f"/admin/webhooks/{webhook['id']}")[0] == 200
    assert call("DELETE", f"/admin/webhooks/{webhook['id']}")[0] == 404
    assert call("DELETE", f"/admin/rest-apis/{rest_api['id']}")[0] == 200


def test_operator_reply_route_writes_message_marks_chat_active_and_is_delivered(seeded, reply_aws, httpserver):
    httpserver.expect_request("/sendText").respond_with_data("ok")
    chat_id = create_chat(external_id="447700900000@c.us", identifier="openwa-demo")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    status, body = call("POST", f"/admin/chats/{chat_id}/messages", {"msg": "On its way", "user_id": 2})
    assert status == 201 and body["message"]["user_id"] == 2 and body["message"]["msg"] == "On its way"
    assert storage.get_chat(chat_id)["status"] == "active"
    pipeline.pump()
    assert messages_of(chat_id)[-1]["delivery"] == "sent"
    status, body = call("GET", "/admin/deliveries", query={"chat_id": str(chat_id)})
    assert status == 200 and [d["status"] for d in body["deliveries"]] == ["sent"]
    assert call("GET", "/admin/deliveries")[1]["deliveries"][0]["chat_id"] == chat_id
    assert call("GET", "/admin/deliveries", query={"chat_id": "abc"})[0] == 400
    assert call("POST", "/admin/deliveries/redrive")[1] == {"redriven": 0, "remaining": False}


@pytest.mark.parametrize("body", [{"msg": "", "user_id": 1}, {"msg": "x", "user_id": 0}, {"msg": "x"},
                                  {"msg": "x", "user_id": 1, "extra": 1}])
def test_operator_reply_validation(reply_aws, body):
    chat_id = create_chat(external_id="1", identifier="openwa-demo")
    assert call("POST", f"/admin/chats/{chat_id}/messages", body)[0] == 422
    assert messages_of(chat_id) == []


def test_operator_reply_to_unknown_chat_is_404(reply_aws):
    assert call("POST", "/admin/chats/424242/messages", {"msg": "x", "user_id": 1})[0] == 404
    assert call("POST", "/admin/chats/abc/messages", {"msg": "x", "user_id": 1})[0] == 404
