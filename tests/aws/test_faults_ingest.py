"""Ingest under DynamoDB faults: the provider is told 503 with a reason, and its retry lands exactly once.

Faults are injected into the repository's real boto3 client (``tests/faults.py``, botocore event hooks):
throttling (``ProvisionedThroughputExceededException``, ``ThrottlingException``, ``RequestLimitExceeded``),
transaction conflicts (``TransactionCanceledException`` / ``TransactionConflict``) and responses lost after
the write was applied. After every fault the table is checked whole: each chat has its lookup item and
vice versa, message ids run 1..n per chat with the chat's counter at n, each message has its dedup item.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from chatbridge.repository import chats, specs, tables
from chatbridge.spec.model import IncomingWebhookSpec
from support.aws import api_event, call, chat_table_items
from support.faults import Faults
from support.pipeline import load_handler

ingest_app = load_handler("ingest")

SPEC = {"identifier": "faulty-hook", "name": "Faulty", "messages": "messages", "chat_id": "chat", "nick": "name",
        "message_id": "id", "text": [{"body": "{{msg.text}}"}]}
THROTTLES = ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]


def payload(chat: str = "c1", ids=range(3), prefix: str = "m") -> dict:
    return {"messages": [{"chat": chat, "name": "Ana", "id": f"{prefix}{i}", "text": f"hello {i}"} for i in ids]}


def post(body: dict) -> tuple[int, dict]:
    return call(ingest_app, api_event("POST", "/webhooks/incoming/faulty-hook", body=body,
                                      path_parameters={"identifier": "faulty-hook"},
                                      resource="/webhooks/incoming/{identifier}"))


@pytest.fixture
def faults(aws_stack):
    specs.save_spec(IncomingWebhookSpec.model_validate(SPEC))
    specs.cached_spec("faulty-hook")  # warm, as a busy Lambda is: the faults hit the chat writes
    injector = Faults(tables.client())
    yield injector
    injector.detach()


def counts() -> Counter:
    return Counter(item["type"] for item in chat_table_items())


def assert_consistent() -> dict[int, list[str]]:
    """Nothing half-written; returns each chat's provider message ids in message-id order."""
    everything = chat_table_items()
    by_type: dict[str, list[dict]] = {}
    for item in everything:
        by_type.setdefault(item["type"], []).append(item)
    chat_ids = {int(chat["id"]) for chat in by_type.get("chat", [])}
    lookups = {int(lookup["chat_id"]) for lookup in by_type.get("chat_lookup", [])}
    assert chat_ids == lookups, "every chat has its lookup item and every lookup its chat"
    stored: dict[int, list[str]] = {}
    for chat in by_type.get("chat", []):
        messages = sorted((m for m in by_type.get("message", []) if int(m["chat_id"]) == int(chat["id"])),
                          key=lambda m: int(m["id"]))
        assert [int(m["id"]) for m in messages] == list(range(1, len(messages) + 1))
        assert int(chat["last_message_id"]) == len(messages)
        stored[int(chat["id"])] = [m["message_id"] for m in messages]
    dedups = {(int(d["chat_id"]), int(d["id"])) for d in by_type.get("message_dedup", [])}
    assert dedups == {(int(m["chat_id"]), int(m["id"])) for m in by_type.get("message", [])}
    return stored


def assert_unavailable(status: int, body: dict) -> None:
    assert status == 503 and body["status"] == "unavailable" and "retry" in body["reason"]
    assert "Traceback" not in json.dumps(body) and "Exception" not in json.dumps(body)


@pytest.mark.parametrize("code", THROTTLES)
def test_a_throttled_chat_write_answers_503_writes_nothing_and_the_retry_stores_each_message_once(faults, code):
    faults.fail("TransactWriteItems", code)
    assert_unavailable(*post(payload()))
    assert counts() == Counter() and faults.injected == [("TransactWriteItems", code)]
    status, body = post(payload())
    assert status == 200 and (body["messages"], body["duplicates"]) == (3, 0)
    assert assert_consistent() == {body["chats"][0]: ["m0", "m1", "m2"]}
    assert counts() == Counter(chat=1, chat_lookup=1, message=3, message_dedup=3)


@pytest.mark.parametrize("operation,table_env", [("GetItem", "CHAT_TABLE"), ("UpdateItem", "CONFIG_TABLE")])
def test_a_throttled_read_or_id_allocation_answers_503_and_the_retry_lands_once(faults, operation, table_env):
    faults.fail(operation, "ProvisionedThroughputExceededException",
                when=lambda body: body.get("TableName") == os.environ[table_env])
    assert_unavailable(*post(payload()))
    assert counts() == Counter()
    assert post(payload())[1]["messages"] == 3
    assert counts() == Counter(chat=1, chat_lookup=1, message=3, message_dedup=3)


def test_a_throttled_spec_read_is_503_not_an_unknown_identifier(faults):
    specs.forget_cached_specs()
    faults.fail("GetItem", "ThrottlingException", when=lambda body: body.get("TableName") == os.environ["CONFIG_TABLE"])
    assert_unavailable(*post(payload()))
    assert post(payload())[0] == 200 and counts()["message"] == 3


def test_throttling_of_an_existing_chat_append_keeps_its_message_ids_contiguous(faults):
    chat_id = post(payload(ids=range(2)))[1]["chats"][0]
    faults.fail("TransactWriteItems", "ProvisionedThroughputExceededException")
    assert_unavailable(*post(payload(ids=range(2, 5))))
    body = post(payload(ids=range(2, 5)))[1]
    assert (body["chats"], body["messages"], body["duplicates"]) == ([chat_id], 3, 0)
    assert assert_consistent() == {chat_id: ["m0", "m1", "m2", "m3", "m4"]}


@pytest.mark.parametrize("existing_chat", [False, True], ids=["new chat", "existing chat"])
def test_transient_transaction_conflicts_are_retried_inside_the_request(faults, existing_chat):
    if existing_chat:
        post(payload(ids=range(1)))
    faults.conflict("TransactWriteItems", times=3)
    status, body = post(payload(ids=range(1, 4)))
    assert status == 200 and (body["messages"], body["duplicates"]) == (3, 0)
    assert len(faults.injected) == 3
    [stored] = assert_consistent().values()
    assert stored == (["m0"] if existing_chat else []) + ["m1", "m2", "m3"]


def test_conflicts_that_never_end_answer_503_and_the_retry_lands_once(faults):
    faults.conflict("TransactWriteItems", times=1_000)
    assert_unavailable(*post(payload()))
    assert counts() == Counter() and len(faults.injected) > 10
    faults.clear()
    assert post(payload())[1]["messages"] == 3
    assert counts() == Counter(chat=1, chat_lookup=1, message=3, message_dedup=3)


def test_a_write_applied_but_its_answer_lost_is_503_and_the_retry_finds_duplicates(faults):
    faults.lose_response("TransactWriteItems")
    assert_unavailable(*post(payload()))
    assert counts() == Counter(chat=1, chat_lookup=1, message=3, message_dedup=3)
    status, body = post(payload())
    assert status == 200 and (body["messages"], body["duplicates"]) == (0, 3)
    assert list(assert_consistent().values()) == [["m0", "m1", "m2"]]


BIG = 130  # 49 messages per transaction: 3 transactions, the fault hits the 2nd


@pytest.mark.parametrize("fault", ["throttle", "conflict", "lost answer"])
def test_a_fault_between_chunks_of_a_large_batch_is_completed_by_the_retry_without_duplicates(faults, fault):
    if fault == "throttle":
        faults.fail("TransactWriteItems", "ProvisionedThroughputExceededException", nth=2)
    elif fault == "conflict":
        faults.conflict("TransactWriteItems", nth=list(range(2, 100)))
    else:
        faults.lose_response("TransactWriteItems", nth=2)
    assert_unavailable(*post(payload(ids=range(BIG))))
    landed = {"throttle": chats.CHUNK, "conflict": chats.CHUNK, "lost answer": 2 * chats.CHUNK}[fault]
    [partial] = assert_consistent().values()
    assert partial == [f"m{i}" for i in range(landed)]  # whole transactions, in order, chat included
    faults.clear()
    status, body = post(payload(ids=range(BIG)))
    assert status == 200 and (body["messages"], body["duplicates"]) == (BIG - landed, landed)
    assert list(assert_consistent().values()) == [[f"m{i}" for i in range(BIG)]]
    assert counts() == Counter(chat=1, chat_lookup=1, message=BIG, message_dedup=BIG)


def test_a_fault_between_two_chats_of_one_payload_is_completed_by_the_retry(faults):
    body = payload(chat="a", ids=range(2), prefix="a")
    body["messages"] += payload(chat="b", ids=range(2), prefix="b")["messages"]
    faults.fail("TransactWriteItems", "ThrottlingException", nth=2)
    assert_unavailable(*post(body))
    assert list(assert_consistent().values()) == [["a0", "a1"]]
    status, answer = post(body)
    assert status == 200 and (answer["messages"], answer["duplicates"]) == (2, 2)
    assert sorted(assert_consistent().values()) == [["a0", "a1"], ["b0", "b1"]]


def test_the_same_request_retried_through_a_storm_of_faults_lands_once(faults):
    """A provider retrying hard through a storm: for 24 writes every other one throttled, every third lost."""
    faults.fail("TransactWriteItems", "ProvisionedThroughputExceededException", nth=list(range(2, 25, 2)))
    faults.lose_response("TransactWriteItems", nth=list(range(3, 25, 6)))
    answers = []
    while not answers or answers[-1] != 200:
        answers.append(post(payload(ids=range(100)))[0])
        assert len(answers) < 30, answers
    assert set(answers[:-1]) == {503} and len(answers) > 3
    assert list(assert_consistent().values()) == [[f"m{i}" for i in range(100)]]
    assert counts() == Counter(chat=1, chat_lookup=1, message=100, message_dedup=100)


@pytest.fixture
def slow_writes():
    """Every chat transaction takes 0.3 s longer (a throttled DynamoDB that botocore keeps retrying)."""
    import time

    def slow(**_):
        time.sleep(0.3)

    events = tables.client().meta.events
    events.register("before-call.dynamodb.TransactWriteItems", slow, unique_id="slow-writes")
    yield
    events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="slow-writes")


def test_writes_that_outlast_the_request_budget_answer_503_before_the_gateway_gives_up_and_the_retry_lands_once(
        faults, slow_writes, monkeypatch):
    """INGEST_BUDGET_SECONDS (ingest.budget): no chat is begun once the budget is spent, so the provider hears
    503 (not API Gateway's 504 while the function writes on) and its retry stores the rest exactly once."""
    monkeypatch.setenv("INGEST_BUDGET_SECONDS", "0.2")
    body = payload(chat="a", ids=range(2), prefix="a")
    body["messages"] += payload(chat="b", ids=range(2), prefix="b")["messages"]
    status, answer = post(body)
    assert_unavailable(status, answer)
    assert "time budget ran out before chat 'b' was written" in answer["reason"]
    assert list(assert_consistent().values()) == [["a0", "a1"]]  # the first chat whole, the second not begun
    monkeypatch.setenv("INGEST_BUDGET_SECONDS", "25")
    status, answer = post(body)
    assert status == 200 and (answer["messages"], answer["duplicates"]) == (2, 2)
    assert sorted(assert_consistent().values()) == [["a0", "a1"], ["b0", "b1"]]
