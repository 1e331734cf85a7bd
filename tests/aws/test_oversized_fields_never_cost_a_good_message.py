"""A field too big for DynamoDB never turns a payload into an endless 503, and never costs the good
message beside it.

A DynamoDB item holds 400 KB and a webhook body 1 MiB, so one over-long nick, phone, email or message id
used to make its item unstorable: the ingest answered 503, the provider retried the same payload forever and
every other message in it was lost. Stored fields are now bounded (``chatbridge.spec.limits``): nick, phone, email
and chat attributes are cut, an over-long message id is kept as its SHA-256 (as dedup keys already were), and
a message DynamoDB still refuses is skipped with a reason while the rest are stored. Only what a retry can fix
(throttling, timeouts, service errors) answers 503 (``chatbridge.repository.failures``).
"""

from __future__ import annotations

import hashlib
import json

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ParamValidationError, ReadTimeoutError

from chatbridge.errors import StorageConflict
from chatbridge.repository import chats, specs, tables
from chatbridge.repository.chats import ChatDraft, NewMessage
from chatbridge.repository.failures import retry_can_fix
from chatbridge.spec import limits
from chatbridge.spec.model import IncomingWebhookSpec
from support.aws import api_event, call, chat_table_items
from support.faults import Faults
from support.pipeline import load_handler

ingest_app = load_handler("ingest")
admin_app = load_handler("admin")

SPEC = {"identifier": "big-fields", "name": "Big", "messages": "messages", "chat_id": "chat", "nick": "name",
        "phone": "phone", "email": "email", "message_id": "id", "text": [{"body": "{{msg.text}}"}],
        "log_requests": True}


@pytest.fixture
def hook(aws_stack):
    specs.save_spec(IncomingWebhookSpec.model_validate(SPEC))


def post(payload: dict, query=None) -> tuple[int, dict]:
    return call(ingest_app, api_event("POST", "/webhooks/incoming/big-fields", body=payload, query=query,
                                      path_parameters={"identifier": "big-fields"},
                                      resource="/webhooks/incoming/{identifier}"))


def chat_of(external_id: str) -> dict:
    chat_id = chats.find_chat_id(1, external_id)
    assert chat_id is not None, f"no chat for {external_id}"
    return chats.get_chat(chat_id)


def texts_of(external_id: str) -> list[str]:
    return [m["msg"] for m in chats.list_messages(chat_of(external_id)["id"])]


def test_a_900_kb_nick_is_cut_and_the_good_message_beside_it_is_stored(hook):
    body = {"messages": [{"chat": "big", "name": "N" * 900_000, "id": "b1", "text": "from a huge nick"},
                         {"chat": "good", "name": "Ana", "id": "g1", "text": "good one"}]}
    assert len(json.dumps(body)) < 1_048_576
    status, answer = post(body)
    assert status == 200, answer
    assert answer["messages"] == 2 and answer["skipped"] == 0
    assert texts_of("good") == ["good one"] and texts_of("big") == ["from a huge nick"]
    assert chat_of("big")["nick"] == "N" * limits.MAX_NICK_CHARS and chat_of("good")["nick"] == "Ana"


def test_over_long_phone_and_email_are_cut_to_their_limits(hook):
    status, _ = post({"messages": [{"chat": "c", "phone": "7" * 500_000, "email": "e" * 400_000, "text": "hi"}]})
    assert status == 200
    chat = chat_of("c")
    assert chat["phone"] == "7" * limits.MAX_PHONE_CHARS and chat["email"] == "e" * limits.MAX_EMAIL_CHARS


def test_a_700_kb_message_id_is_kept_as_its_hash_and_a_retry_still_dedups(hook):
    long_id = "I" * 700_000
    body = {"messages": [{"chat": "c", "id": long_id, "text": "long id"}, {"chat": "c", "id": "ok", "text": "fine"}]}
    status, answer = post(body)
    assert status == 200 and answer["messages"] == 2, answer
    stored = chats.list_messages(chat_of("c")["id"])
    assert [m["msg"] for m in stored] == ["long id", "fine"]
    assert stored[0]["message_id"] == "sha256:" + hashlib.sha256(long_id.encode()).hexdigest()
    assert stored[1]["message_id"] == "ok"
    status, again = post(body)
    assert status == 200 and again["messages"] == 0 and again["duplicates"] == 2


def carries_poison(request: dict) -> bool:
    """A transaction writing a message whose text starts with "poison" (the chat's raw payload may quote it)."""
    return any(item.get("Put", {}).get("Item", {}).get("msg", {}).get("S", "").startswith("poison")
               for item in request.get("TransactItems", []))


def test_a_message_dynamodb_still_refuses_is_skipped_with_a_reason_and_the_rest_are_stored(hook):
    faults = Faults(tables.client())
    try:
        faults.fail("TransactWriteItems", "ValidationException", times=100, when=carries_poison)
        body = {"messages": [{"chat": "c", "id": "p1", "text": "poison"}, {"chat": "c", "id": "g1", "text": "good"},
                             {"chat": "d", "id": "p2", "text": "poison too"}, {"chat": "e", "id": "g2", "text": "ok"}]}
        status, answer = post(body, query={"output": "json"})
    finally:
        faults.detach()
    assert status == 200, answer
    assert answer["messages"] == 2 and answer["skipped"] == 2
    assert texts_of("c") == ["good"] and texts_of("e") == ["ok"]
    assert chats.find_chat_id(1, "d") is None, "a chat whose every message was refused is not created"
    reasons = {s["index"]: s["reason"] for s in answer["skipped_messages"]}
    assert set(reasons) == {0, 2} and all("cannot be stored" in r for r in reasons.values())
    [entry] = call(admin_app, api_event("GET", "/admin/incoming-webhooks/big-fields/requests",
                                        path_parameters={"identifier": "big-fields"},
                                        resource="/admin/incoming-webhooks/{identifier}/requests"))[1]["requests"]
    assert entry["status"] == 200 and entry["outcome"]["skipped"] == 2
    everything = chat_table_items()
    assert {int(i["id"]) for i in everything if i["type"] == "chat"} == \
        {int(i["chat_id"]) for i in everything if i["type"] == "chat_lookup"}


def test_a_validation_error_from_storage_is_a_4xx_with_a_reason_never_a_503(hook):
    specs.cached_spec("big-fields")  # warm, as a busy Lambda is: the fault hits the chat reads
    faults = Faults(tables.client())
    try:
        faults.fail("GetItem", "ValidationException", times=100)
        status, answer = post({"messages": [{"chat": "c", "id": "m", "text": "hi"}]})
    finally:
        faults.detach()
    assert 400 <= status < 500 and status != 401, (status, answer)
    assert answer["reason"] and "retry" in answer["reason"]
    assert [entry["status"] for entry in call(admin_app, api_event(
        "GET", "/admin/incoming-webhooks/big-fields/requests", path_parameters={"identifier": "big-fields"},
        resource="/admin/incoming-webhooks/{identifier}/requests"))[1]["requests"]] == [status]


@pytest.mark.parametrize("code", ["InternalServerError", "ServiceUnavailable", "ThrottlingException"])
def test_service_errors_and_throttling_still_answer_503(hook, code):
    faults = Faults(tables.client())
    try:
        faults.fail("TransactWriteItems", code, times=1)
        assert post({"messages": [{"chat": "c", "id": "m", "text": "hi"}]})[0] == 503
    finally:
        faults.detach()


# -- the bounds and the classification, on their own ---------------------------------------------------

def test_a_chat_draft_is_bounded_whoever_builds_it():
    draft = ChatDraft(spec_id=1, chat_external_id="x", nick="n" * 10_000, phone="p" * 10_000, email="e" * 10_000,
                      incoming={}, raw=None,
                      attributes={f"name{i}": "v" * 10_000 for i in range(limits.MAX_CHAT_ATTRIBUTES + 10)})
    assert len(draft.nick) == limits.MAX_NICK_CHARS and len(draft.phone) == limits.MAX_PHONE_CHARS
    assert len(draft.email) == limits.MAX_EMAIL_CHARS
    assert len(draft.attributes) == limits.MAX_CHAT_ATTRIBUTES
    assert all(len(v) <= limits.MAX_CHAT_ATTRIBUTE_CHARS for v in draft.attributes.values())


def test_a_new_message_keeps_short_ids_and_hashes_long_ones_as_its_dedup_key_does():
    short = NewMessage(dedup_id="m1", message_id="m1", kind="text", msg="x" * 100_000, time=0)
    assert short.message_id == "m1" and len(short.msg) == limits.MAX_MESSAGE_CHARS
    long_id = "i" * (limits.MAX_MESSAGE_ID_CHARS + 1)
    hashed = NewMessage(dedup_id=long_id, message_id=long_id, kind="text", msg="x", time=0)
    assert hashed.message_id == hashed.dedup_id == "sha256:" + hashlib.sha256(long_id.encode()).hexdigest()
    assert chats.dedup_key(1, hashed.dedup_id) == chats.dedup_key(1, long_id), "stored dedup keys stay valid"


def _client_error(code: str, status: int = 400, **extra) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status},
                        **extra}, "TransactWriteItems")


@pytest.mark.parametrize("error", [
    _client_error("ProvisionedThroughputExceededException"), _client_error("ThrottlingException"),
    _client_error("RequestLimitExceeded"), _client_error("InternalServerError", 500),
    _client_error("ServiceUnavailable", 503), _client_error("TransactionConflictException"),
    _client_error("TransactionCanceledException", CancellationReasons=[{"Code": "TransactionConflict"},
                                                                       {"Code": "None"}]),
    _client_error("SomethingNew", 500), _client_error("ResourceNotFoundException"), _client_error("NoSuchBucket"),
    _client_error("AccessDeniedException"), ReadTimeoutError(endpoint_url="https://x"),
    ConnectTimeoutError(endpoint_url="https://x"), StorageConflict("kept racing")], ids=repr)
def test_what_a_retry_can_fix_is_retried(error):
    assert retry_can_fix(error)


@pytest.mark.parametrize("error", [
    _client_error("ValidationException"), _client_error("ItemCollectionSizeLimitExceededException"),
    _client_error("SerializationException"),
    _client_error("TransactionCanceledException", CancellationReasons=[{"Code": "ValidationError"}]),
    ParamValidationError(report="bad"), ValueError("Port out of range 0-65535"), KeyError("x"),
    TypeError("bug")], ids=repr)
def test_what_fails_the_same_way_every_time_is_not_retried(error):
    assert not retry_can_fix(error)


@pytest.mark.parametrize("existing_chat", [False, True], ids=["new chat", "existing chat"])
def test_a_chat_item_dynamodb_refuses_skips_its_messages_with_a_reason_at_once_and_is_never_a_503(hook, existing_chat):
    """A ``ValidationError`` on the chat's own item (a new chat's put, an existing chat's counter update) is the
    same on every retry, like a refused message, but no message of the chunk is to blame: all are skipped with
    the reason in one round, where a conflict's re-read and retry would end in 503 and be retried forever."""
    if existing_chat:
        assert post({"messages": [{"chat": "c", "id": "m0", "text": "first"}]})[0] == 200
    faults = Faults(tables.client())
    try:
        faults.cancel("ValidationError", item=0 if existing_chat else 1, times=100)
        status, answer = post({"messages": [{"chat": "c", "id": f"m{i}", "text": "hi"} for i in (1, 2)]},
                              query={"output": "json"})
    finally:
        faults.detach()
    assert status == 200, answer
    assert (answer["messages"], answer["skipped"]) == (0, 2)
    assert all("DynamoDB refuses its chat" in skip["reason"] for skip in answer["skipped_messages"])
    assert len(faults.injected) == 1, "refused in one round, not retried as a conflict"
    assert texts_of("c") == ["first"] if existing_chat else chats.find_chat_id(1, "c") is None
