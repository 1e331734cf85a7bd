"""A warm ingest function remembers the chats it wrote (``repository.chat_cache``); these prove the memory is
never believed over the table. Each case goes through the real ingest handler on moto: a chat closed by an
operator, reopened, or written by another writer (a second warm function, with its own memory, or a direct
write) between two webhooks. Every message is stored exactly once, in order, in the chat the documented
``on_closed_chat`` behaviour names, and a retried delivery is a duplicate however stale the memory.
"""

from __future__ import annotations

import os
import threading

import boto3
import pytest

from chatbridge.ingest.store import ingest
from chatbridge.repository import chat_cache, chats, specs, tables
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from support.aws import api_event, call
from support.faults import Faults
from support.pipeline import load_handler

ingest_app = load_handler("ingest")
admin_app = load_handler("admin")

SPEC = {"identifier": "warm-hook", "name": "Warm", "messages": "messages", "chat_id": "chat", "nick": "name",
        "message_id": "id", "text": [{"body": "{{msg.text}}"}]}


class Instances:
    """Warm function instances of one deployment: each has its own chat memory and block of chat ids."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.memories: dict[str, tuple[chat_cache.ChatStates, chat_cache.ChatIds]] = {}

    def post(self, instance: str, ids, chat: str = "c1", *, name: str = "Ana") -> tuple[int, dict]:
        states, chat_ids = self.memories.setdefault(instance, (chat_cache.ChatStates(), chat_cache.ChatIds()))
        self.monkeypatch.setattr(chat_cache, "chat_states", states)
        self.monkeypatch.setattr(chat_cache, "chat_ids", chat_ids)
        body = {"messages": [{"chat": chat, "name": name, "id": f"m{i}", "text": f"hello {i}"} for i in ids]}
        return call(ingest_app, api_event("POST", "/webhooks/incoming/warm-hook", body=body,
                                          path_parameters={"identifier": "warm-hook"},
                                          resource="/webhooks/incoming/{identifier}"))


@pytest.fixture
def instances(aws_stack, monkeypatch):
    return Instances(monkeypatch)


def store(**changes) -> None:
    specs.save_spec(IncomingWebhookSpec.model_validate({**SPEC, **changes}))


def admin(method: str, path: str, body=None, **params) -> tuple[int, dict]:
    return call(admin_app, api_event(method, path, body=body, path_parameters=params or None))


def close(chat_id: int) -> None:
    assert admin("POST", f"/admin/chats/{chat_id}/close", chat_id=str(chat_id))[0] == 200


def operator_reply(chat_id: int) -> None:
    status, _ = admin("POST", f"/admin/chats/{chat_id}/messages", {"msg": "on its way", "user_id": 3},
                      chat_id=str(chat_id))
    assert status == 201


def stored(chat_id: int) -> list[tuple[int, str | None]]:
    """(id, provider id) of every message of the chat, in id order: operator replies show as None."""
    return [(int(m["id"]), m["message_id"]) for m in chats.list_messages(chat_id)]


def chat_item(chat_id: int) -> dict:
    return chats.get_chat(chat_id)


def stored_once(status_body: tuple[int, dict], *, messages: int = 1, duplicates: int = 0) -> list[int]:
    status, body = status_body
    assert status == 200 and (body["messages"], body["duplicates"]) == (messages, duplicates), body
    return body["chats"]


def test_a_warm_function_appends_to_a_chat_it_wrote_in_one_request(instances):
    store()
    [chat_id] = stored_once(instances.post("a", [0]))
    requests = Faults(tables.client())
    try:
        assert stored_once(instances.post("a", [1])) == [chat_id]
    finally:
        requests.detach()
    assert dict(requests.calls) == {"TransactWriteItems": 1}
    assert stored(chat_id) == [(1, "m0"), (2, "m1")]


def test_the_memory_is_bounded_and_forgets_the_least_recently_used_chat():
    states = chat_cache.ChatStates(size=2)
    for name in ("a", "b", "a", "c"):
        states.put(("table", 1, name), chat_cache.ChatState(chat_id=1, last_message_id=1, status="pending", user_id=0))
    assert len(states) == 2 and states.get(("table", 1, "b")) is None and states.get(("table", 1, "a")) is not None
    assert states.get(("other-table", 1, "a")) is None  # per table: another deployment's chats are not these


@pytest.mark.parametrize("on_closed_chat", ["new_chat", "pending"])
def test_a_chat_closed_by_an_operator_while_remembered_behaves_as_documented(instances, on_closed_chat):
    store(on_closed_chat=on_closed_chat)
    [first] = stored_once(instances.post("a", [0]))
    close(first)
    [second] = stored_once(instances.post("a", [1]))
    assert stored_once(instances.post("a", [2])) == [second]
    if on_closed_chat == "new_chat":
        assert second != first and chat_item(first)["status"] == "closed"
        assert stored(first) == [(1, "m0")] and stored(second) == [(1, "m1"), (2, "m2")]
    else:
        assert second == first and stored(first) == [(1, "m0"), (2, "m1"), (3, "m2")]
    assert chat_item(second)["status"] == "pending"


@pytest.mark.parametrize("reset_operator,status,user_id", [(False, "active", 7), (True, "pending", 0)])
def test_a_remembered_chat_closed_with_an_operator_reopens_as_documented(instances, reset_operator, status, user_id):
    store(on_closed_chat="active", reset_operator=reset_operator)
    [chat_id] = stored_once(instances.post("a", [0]))
    close(chat_id)
    boto3.resource("dynamodb").Table(os.environ["CHAT_TABLE"]).update_item(
        Key=chats.chat_key(chat_id), UpdateExpression="SET user_id = :u", ExpressionAttributeValues={":u": 7})
    assert stored_once(instances.post("a", [1])) == [chat_id]
    assert (chat_item(chat_id)["status"], chat_item(chat_id)["user_id"]) == (status, user_id)
    assert stored(chat_id) == [(1, "m0"), (2, "m1")]


def test_an_operator_assigned_by_a_direct_write_is_not_put_back_by_a_remembered_chat(instances):
    store()
    [chat_id] = stored_once(instances.post("a", [0]))
    boto3.resource("dynamodb").Table(os.environ["CHAT_TABLE"]).update_item(
        Key=chats.chat_key(chat_id), UpdateExpression="SET user_id = :u, #s = :active",
        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":u": 7, ":active": "active"})
    assert stored_once(instances.post("a", [1])) == [chat_id]
    assert (chat_item(chat_id)["status"], chat_item(chat_id)["user_id"]) == ("active", 7)
    assert stored(chat_id) == [(1, "m0"), (2, "m1")]


def test_an_operator_reply_between_two_webhooks_keeps_the_order_and_costs_one_retry(instances):
    store()
    [chat_id] = stored_once(instances.post("a", [0]))
    operator_reply(chat_id)
    requests = Faults(tables.client())
    try:
        assert stored_once(instances.post("a", [1])) == [chat_id]
    finally:
        requests.detach()
    assert dict(requests.calls) == {"TransactWriteItems": 2}  # the cancelled one returned the chat as it is
    assert stored(chat_id) == [(1, "m0"), (2, None), (3, "m1")]
    assert (chat_item(chat_id)["last_message_id"], chat_item(chat_id)["visitor_messages"]) == (3, 2)


def test_two_warm_functions_writing_one_chat_interleave_its_messages_in_order(instances):
    store()
    [chat_id] = stored_once(instances.post("a", [0]))
    assert stored_once(instances.post("b", [1])) == [chat_id]  # b has not seen the chat: it finds it
    assert stored_once(instances.post("a", [2])) == [chat_id]  # a remembers counter 1: stale
    assert stored_once(instances.post("b", [3])) == [chat_id]
    assert stored(chat_id) == [(1, "m0"), (2, "m1"), (3, "m2"), (4, "m3")]
    assert chat_item(chat_id)["last_message_id"] == 4


@pytest.mark.parametrize("on_closed_chat", ["new_chat", "pending"])
def test_a_chat_closed_and_renewed_by_another_function_is_followed_by_the_one_that_remembers_it(
        instances, on_closed_chat):
    store(on_closed_chat=on_closed_chat)
    [first] = stored_once(instances.post("a", [0]))
    close(first)
    [renewed] = stored_once(instances.post("b", [1]))  # restarted as a new chat, or reopened
    assert stored_once(instances.post("a", [2])) == [renewed]
    expected = [(1, "m1"), (2, "m2")] if on_closed_chat == "new_chat" else [(1, "m0"), (2, "m1"), (3, "m2")]
    assert stored(renewed) == expected
    assert (renewed != first) == (on_closed_chat == "new_chat")


def test_an_operator_reply_reopening_a_chat_that_was_restarted_does_not_pull_messages_back_into_it(instances):
    """An operator may still answer in a closed chat after the visitor's next message started a new one: the
    old chat is open again, but the lookup names the new one, and that is where the visitor's messages go."""
    store(on_closed_chat="new_chat")
    [first] = stored_once(instances.post("a", [0]))
    close(first)
    [second] = stored_once(instances.post("b", [1]))
    operator_reply(first)
    assert chat_item(first)["status"] == "active"
    assert stored_once(instances.post("a", [2])) == [second]
    assert stored(first) == [(1, "m0"), (2, None)] and stored(second) == [(1, "m1"), (2, "m2")]


def test_a_direct_write_to_the_counter_between_two_webhooks_is_never_overwritten(instances):
    store()
    [chat_id] = stored_once(instances.post("a", [0]))
    chat_items = boto3.resource("dynamodb").Table(os.environ["CHAT_TABLE"])
    chat_items.update_item(Key=chats.chat_key(chat_id), UpdateExpression="SET last_message_id = :n",
                           ExpressionAttributeValues={":n": 5})  # a tool that wrote messages 2..5 its own way
    assert stored_once(instances.post("a", [1])) == [chat_id]
    assert stored(chat_id) == [(1, "m0"), (6, "m1")] and chat_item(chat_id)["last_message_id"] == 6


@pytest.mark.parametrize("stale", ["remembered", "closed since", "another function", "memory lost"])
def test_a_retried_delivery_is_one_message_however_stale_the_memory(instances, stale):
    store(on_closed_chat="new_chat")
    [chat_id] = stored_once(instances.post("a", [0, 1]), messages=2)
    instance = "a"
    if stale == "closed since":
        close(chat_id)
    elif stale == "another function":
        operator_reply(chat_id)
        instance = "b"
    elif stale == "memory lost":
        chat_cache.chat_states.clear()
    assert stored_once(instances.post(instance, [0, 1]), messages=0, duplicates=2) == [chat_id]
    assert stored(chat_id)[:2] == [(1, "m0"), (2, "m1")]
    assert len([c for c in (chat_item(i) for i in range(1, 12)) if c]) == 1  # no empty chat was started


def test_a_new_chat_with_an_id_at_hand_is_one_request_and_an_unseen_existing_chat_is_found(instances):
    store()
    [first] = stored_once(instances.post("a", [0]))  # takes the block of ids
    requests = Faults(tables.client())
    try:
        [second] = stored_once(instances.post("a", [1], chat="c2"))
        assert dict(requests.calls) == {"TransactWriteItems": 1}
        requests.calls.clear()
        assert stored_once(instances.post("b", [2])) == [first]  # b's block, c1 unseen by b
        assert stored_once(instances.post("b", [3], chat="c3"))[0] not in (first, second)
    finally:
        requests.detach()
    assert stored(first) == [(1, "m0"), (2, "m2")] and stored(second) == [(1, "m1")]
    assert chat_item(second)["id"] == first + 1  # the id the first chat's block held next


def test_an_unused_chat_id_goes_back_to_the_block_when_the_chat_was_not_written(instances):
    store()
    faults = Faults(tables.client())
    try:
        faults.fail("TransactWriteItems", "ProvisionedThroughputExceededException")
        assert instances.post("a", [0])[0] == 503
    finally:
        faults.detach()
    [chat_id] = stored_once(instances.post("a", [0]))
    assert chat_id == 1  # the id of the refused attempt: no gap


def test_threads_of_one_process_sharing_the_memory_store_each_message_once_in_one_gapless_order(instances):
    """Handlers called from threads of one process (the tests' Lambda instances; ``chatbridge local`` runs each
    invocation in its own worker process instead) share one chat memory and one block of ids: every thread
    starts from the same remembered counter, all but one are cancelled and learn the chat again, and new chats
    get distinct ids from the shared block. What the memory holds afterwards may be any thread's last write; the
    next append's conditions still put its message right after the others."""
    spec, _ = specs.save_spec(IncomingWebhookSpec.model_validate(SPEC))
    [chat_id] = stored_once(instances.post("a", [0]))  # module memory is instance a's from here on
    barrier = threading.Barrier(6)
    outcomes, failures = [], []

    def deliver(i: int) -> None:
        payloads = [{"messages": [{"chat": "c1", "name": "Ana", "id": f"m{i}", "text": f"hello {i}"}]},
                    {"messages": [{"chat": f"new-{i}", "name": "Bo", "id": f"n{i}", "text": "hi"}]}]
        results = [(map_payload(spec, payload), payload) for payload in payloads]
        barrier.wait()
        try:
            outcomes.extend(ingest(spec, result, payload) for result, payload in results)
        except Exception as error:  # surfaced below: a thread's exception would otherwise vanish
            failures.append(error)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(m for _, m in stored(chat_id)[1:]) == [f"m{i}" for i in range(1, 7)]
    assert [i for i, _ in stored(chat_id)] == list(range(1, 8))
    new_chats = {c for outcome in outcomes for c in outcome.created_chats}
    assert len(new_chats) == 6 and chat_id not in new_chats
    assert stored_once(instances.post("a", [7])) == [chat_id]  # whichever thread's state was remembered last
    assert stored(chat_id)[-1] == (8, "m7")


@pytest.mark.parametrize("on_closed_chat", ["new_chat", "pending"])
def test_a_remembered_chat_closed_since_is_read_afresh_not_guessed_new(instances, on_closed_chat):
    """With ids at hand, a cancelled append to a chat closed since reads lookup and chat: guessing the chat new
    there would send the whole chunk again as a create that its existing lookup cancels."""
    store(on_closed_chat=on_closed_chat)
    [first] = stored_once(instances.post("a", [0]))  # takes the block: ids at hand from here on
    close(first)
    requests = Faults(tables.client())
    try:
        stored_once(instances.post("a", [1]))
    finally:
        requests.detach()
    assert dict(requests.calls) == {"TransactWriteItems": 2, "GetItem": 2}
