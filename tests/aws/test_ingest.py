"""The ingest Lambda on moto: chats and messages land exactly once, answers say what happened."""

import json
import threading

import boto3
import pytest

from chatbridge.ingest.store import ingest
from chatbridge.repository import chats, specs
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from support.aws import api_event, call
from support.paths import PAYLOADS
from support.pipeline import load_handler
from support.presets import preset_spec

ingest_app = load_handler("ingest")

BATCH_SPEC = {"identifier": "batch-chat", "name": "Batch", "scope": "test", "messages": "messages",
              "chat_id": "chat", "nick": "name", "message_id": "id", "time": "t",
              "conditions": "kind=message", "text": [{"body": "{{msg.text}}"}]}


def store(definition, **changes):
    spec, _ = specs.save_spec(IncomingWebhookSpec.model_validate({**definition, **changes}))
    return spec


def post(identifier, body, *, content_type="application/json", query=None, headers=None):
    if not isinstance(body, str):
        body = json.dumps(body)
    return call(ingest_app, api_event(
        "POST", f"/webhooks/incoming/{identifier}", body=body, query=query,
        headers={"Content-Type": content_type, **(headers or {})}, path_parameters={"identifier": identifier},
        resource="/webhooks/incoming/{identifier}"))


def batch(chat="c1", ids=range(1), prefix="m", name="Ana"):
    return {"kind": "message", "messages": [{"chat": chat, "name": name, "id": f"{prefix}{i}", "text": f"hello {i}",
                                             "t": 1_700_000_000 + i} for i in ids]}


def chat_items():
    table = boto3.resource("dynamodb").Table(__import__("os").environ["CHAT_TABLE"])
    return [item for item in table.scan(ConsistentRead=True)["Items"] if item["type"] == "chat"]


def test_first_message_creates_a_pending_chat_with_the_stored_shape(aws_stack):
    spec = store(BATCH_SPEC)
    status, body = post("batch-chat", batch())
    assert status == 200
    assert body == {"status": "ok", "chats": [body["chats"][0]], "messages": 1, "duplicates": 0, "skipped": 0}
    chat = chats.get_chat(body["chats"][0])
    assert chat["status"] == "pending" and chat["nick"] == "Ana" and chat["user_id"] == 0
    assert chat["iwh_id"] == spec.id and chat["chat_variables"] == {"iwh_id": spec.id}
    assert chat["incoming_chat"] == {"chat_external_id": "c1", "incoming": {
        "id": spec.id, "identifier": "batch-chat", "name": "Batch", "scope": "test"}, "attributes": {},
        "chat_type": "individual"}
    assert chat["nick_fallback"] is False
    assert chat["raw"] == batch()
    [message] = chats.list_messages(chat["id"])
    assert message == {"id": 1, "chat_id": chat["id"], "user_id": 0, "kind": "text", "msg": "hello 0",
                       "time": 1_700_000_000, "message_id": "m0", "delivery": None}


def test_retried_delivery_creates_no_second_message(aws_stack):
    store(BATCH_SPEC)
    first = post("batch-chat", batch(ids=range(3)))[1]
    status, again = post("batch-chat", batch(ids=range(3)))
    assert status == 200 and again["messages"] == 0 and again["duplicates"] == 3
    assert again["chats"] == first["chats"]
    assert [m["message_id"] for m in chats.list_messages(first["chats"][0])] == ["m0", "m1", "m2"]


def test_a_retry_with_new_messages_stores_only_the_new_ones_in_order(aws_stack):
    store(BATCH_SPEC)
    chat_id = post("batch-chat", batch(ids=range(2)))[1]["chats"][0]
    body = post("batch-chat", batch(ids=range(4)))[1]
    assert body["messages"] == 2 and body["duplicates"] == 2
    assert [(m["id"], m["message_id"]) for m in chats.list_messages(chat_id)] == [
        (1, "m0"), (2, "m1"), (3, "m2"), (4, "m3")]


def test_messages_without_provider_id_dedup_on_retry_but_not_across_payloads(aws_stack):
    store(BATCH_SPEC, message_id="")
    chat_id = post("batch-chat", batch(ids=range(2)))[1]["chats"][0]
    assert post("batch-chat", batch(ids=range(2)))[1]["duplicates"] == 2
    assert post("batch-chat", batch(ids=range(5, 6)))[1]["messages"] == 1
    stored = chats.list_messages(chat_id)
    assert len(stored) == 3 and all(m["message_id"] is None for m in stored)


def test_repeated_message_id_inside_one_payload_is_one_message(aws_stack):
    store(BATCH_SPEC)
    payload = batch(ids=range(2))
    payload["messages"].append(dict(payload["messages"][0]))
    body = post("batch-chat", payload)[1]
    assert body["messages"] == 2 and body["duplicates"] == 1


def test_output_json_adds_created_chat_and_message_ids(aws_stack):
    store(BATCH_SPEC)
    body = post("batch-chat", batch(ids=range(2)), query={"output": "json"})[1]
    chat_id = body["chats"][0]
    assert body["created"] == {"chats": [chat_id], "messages": [{"chat_id": chat_id, "id": 1},
                                                                {"chat_id": chat_id, "id": 2}]}
    again = post("batch-chat", batch(ids=range(3)), query={"output": "json"})[1]
    assert again["created"] == {"chats": [], "messages": [{"chat_id": chat_id, "id": 3}]}


def test_payload_refused_by_general_conditions_is_ignored_and_writes_nothing(aws_stack):
    store(BATCH_SPEC)
    status, body = post("batch-chat", {"kind": "status", "messages": []})
    assert status == 200 and body["status"] == "ignored" and body["reason"]
    assert chat_items() == []


def test_unknown_and_disabled_identifiers_get_the_same_404(aws_stack):
    store(BATCH_SPEC, identifier="disabled-one", enabled=False)
    unknown = post("no-such-hook", batch())
    disabled = post("disabled-one", batch())
    assert unknown[0] == disabled[0] == 404 and unknown[1] == disabled[1]
    assert chat_items() == []


@pytest.mark.parametrize("body,content_type,status", [
    ("{not json", "application/json", 400),
    ("", "application/json", 400),
    ("<xml/>", "text/xml", 415),
    ("[" * 70 + "]" * 70, "application/json", 400),
])
def test_unreadable_bodies_get_a_clear_4xx_and_write_nothing(aws_stack, body, content_type, status):
    store(BATCH_SPEC)
    answer = post("batch-chat", body, content_type=content_type)
    assert answer[0] == status and answer[1]["reason"]
    assert chat_items() == []


def test_a_body_over_the_limit_is_413(aws_stack):
    store(BATCH_SPEC)
    status, body = post("batch-chat", json.dumps({"kind": "message", "pad": "x" * 1_100_000}))
    assert status == 413 and "limit" in body["reason"]


def test_bad_base64_body_is_400_not_500(aws_stack):
    store(BATCH_SPEC)
    event = api_event("POST", "/webhooks/incoming/batch-chat", body="%%%not base64", is_base64=True,
                      headers={"Content-Type": "application/json"}, path_parameters={"identifier": "batch-chat"},
                      resource="/webhooks/incoming/{identifier}")
    assert call(ingest_app, event)[0] == 400


def test_storage_failure_answers_503_without_details(aws_stack, monkeypatch):
    store(BATCH_SPEC)
    boto3.client("dynamodb").delete_table(TableName=__import__("os").environ["CHAT_TABLE"])
    status, body = post("batch-chat", batch())
    assert status == 503 and body["status"] == "unavailable"
    assert "Traceback" not in json.dumps(body) and "ResourceNotFound" not in json.dumps(body)


def test_concurrent_first_messages_of_a_new_chat_create_one_chat(aws_stack):
    """Eight Lambda instances (threads; one handler module cannot serve two events at once, as in Lambda)."""
    spec = store(BATCH_SPEC)
    barrier = threading.Barrier(8)
    outcomes, failures = [], []

    def deliver(i):
        payload = batch(ids=range(i, i + 1))
        result = map_payload(spec, payload)
        barrier.wait()
        try:
            outcomes.append(ingest(spec, result, payload))
        except Exception as error:  # surfaced below: a thread's exception would otherwise vanish
            failures.append(error)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(chat_items()) == 1
    chat_id = chat_items()[0]["id"]
    assert {outcome.chats[0] for outcome in outcomes} == {chat_id}
    assert sum(len(outcome.created_chats) for outcome in outcomes) == 1
    assert sum(outcome.duplicates for outcome in outcomes) == 0
    stored = chats.list_messages(chat_id)
    assert [m["id"] for m in stored] == list(range(1, 9))
    assert sorted(m["message_id"] for m in stored) == [f"m{i}" for i in range(8)]


def test_concurrent_retries_of_one_delivery_store_it_once(aws_stack):
    spec = store(BATCH_SPEC)
    payload = batch(ids=range(5))
    barrier = threading.Barrier(6)
    outcomes = []

    def deliver():
        result = map_payload(spec, payload)
        barrier.wait()
        outcomes.append(ingest(spec, result, payload))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(outcome.messages) for outcome in outcomes) == 5
    assert sum(outcome.duplicates for outcome in outcomes) == 25
    assert len(chats.list_messages(chat_items()[0]["id"])) == 5


def test_closed_chat_restarts_as_a_new_chat_when_the_spec_says_new_chat(aws_stack):
    store(BATCH_SPEC, on_closed_chat="new_chat")
    first = post("batch-chat", batch(ids=range(1)))[1]["chats"][0]
    chats.close_chat(first)
    second = post("batch-chat", batch(ids=range(1, 2)))[1]["chats"][0]
    assert second != first
    assert chats.get_chat(first)["status"] == "closed" and chats.get_chat(second)["status"] == "pending"
    assert [m["message_id"] for m in chats.list_messages(second)] == ["m1"]
    assert post("batch-chat", batch(ids=range(2, 3)))[1]["chats"] == [second]


def test_closed_chat_reopens_as_pending_when_the_spec_says_pending(aws_stack):
    store(BATCH_SPEC, on_closed_chat="pending")
    chat_id = post("batch-chat", batch(ids=range(1)))[1]["chats"][0]
    chats.close_chat(chat_id)
    assert post("batch-chat", batch(ids=range(1, 2)))[1]["chats"] == [chat_id]
    assert chats.get_chat(chat_id)["status"] == "pending"
    assert len(chats.list_messages(chat_id)) == 2


@pytest.mark.parametrize("reset_operator,status,user_id", [(False, "active", 7), (True, "pending", 0)])
def test_closed_chat_with_an_operator_reopens_active_unless_the_operator_is_reset(aws_stack, reset_operator,
                                                                                  status, user_id):
    store(BATCH_SPEC, on_closed_chat="active", reset_operator=reset_operator)
    chat_id = post("batch-chat", batch(ids=range(1)))[1]["chats"][0]
    chats.close_chat(chat_id)
    boto3.resource("dynamodb").Table(__import__("os").environ["CHAT_TABLE"]).update_item(
        Key=chats.chat_key(chat_id), UpdateExpression="SET user_id = :u", ExpressionAttributeValues={":u": 7})
    post("batch-chat", batch(ids=range(1, 2)))
    chat = chats.get_chat(chat_id)
    assert (chat["status"], chat["user_id"]) == (status, user_id)


def test_form_encoded_twilio_message_creates_a_chat(aws_stack):
    store(preset_spec("twilio", identifier="twilio-sms", verification=None))
    body = (PAYLOADS / "twilio" / "courier_receiveValid.txt").read_text().strip()
    status, answer = post("twilio-sms", body, content_type="application/x-www-form-urlencoded")
    assert status == 200 and answer["messages"] == 1
    chat = chats.get_chat(answer["chats"][0])
    assert chat["incoming_chat"]["chat_external_id"] == "+14133881111"
    assert chats.list_messages(chat["id"])[0]["msg"] == "Msg"
    assert post("twilio-sms", body, content_type="application/x-www-form-urlencoded")[1]["duplicates"] == 1


def test_a_thousand_message_batch_lands_in_one_invocation_exactly_once(aws_stack):
    store(BATCH_SPEC)
    status, body = post("batch-chat", batch(ids=range(1000)))
    assert status == 200 and body["messages"] == 1000
    chat_id = body["chats"][0]
    stored = chats.list_messages(chat_id, limit=2000)
    assert [m["id"] for m in stored] == list(range(1, 1001))
    assert [m["message_id"] for m in stored] == [f"m{i}" for i in range(1000)]


def test_a_batch_that_failed_halfway_lands_exactly_once_on_retry(aws_stack, monkeypatch):
    from chatbridge.repository import tables

    store(BATCH_SPEC)
    client = tables.client()
    real = client.transact_write_items
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise __import__("botocore").exceptions.EndpointConnectionError(endpoint_url="dynamodb")
        return real(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", flaky)
    assert post("batch-chat", batch(ids=range(300)))[0] == 503
    partial = chats.list_messages(chat_items()[0]["id"], limit=2000)
    assert len(partial) == 3 * 49  # whole transactions only: the chat came with its first messages
    body = post("batch-chat", batch(ids=range(300)))[1]
    assert body["messages"] == 300 - 3 * 49 and body["duplicates"] == 3 * 49
    assert [m["id"] for m in chats.list_messages(body["chats"][0], limit=2000)] == list(range(1, 301))
    assert len(chat_items()) == 1


def test_one_payload_with_several_chats_stores_each(aws_stack):
    store(BATCH_SPEC)
    payload = batch(chat="a", ids=range(2), prefix="a")
    payload["messages"] += batch(chat="b", ids=range(3), prefix="b")["messages"]
    body = post("batch-chat", payload)[1]
    assert len(body["chats"]) == 2 and body["messages"] == 5
    assert [len(chats.list_messages(c)) for c in body["chats"]] == [2, 3]
