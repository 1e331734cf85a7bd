"""`chatbridge local --data DIR` survives SIGKILL on the real template.yaml (issue 13's durability tests).

kill -9 runs no shutdown code, so whatever a restart on the same folder finds was written before the stack
answered: every webhook answered 200 is a message exactly once, every admin write answered 201 reads back, and
a reply job hidden for its backoff is resumed and sent exactly once. Readiness is waited on (the stack's
ready line, the loopback server's log, the admin API's answers), never slept for.
"""

import json
import threading
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from chatbridge.cli.client import ChatbridgeClient
from chatbridge.local.seed import IDENTIFIER, SAMPLE_MESSAGE
from support.local_stack import LocalStackProcess, eventually, loopback_server
from support.paths import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (ROOT / "template.yaml").exists(), reason="template.yaml is not in the tree yet"),
]
POSTERS = 4
POSTS_EACH = 40
KILL_AFTER = 16  # answered posts before kill -9: well inside the load (160 posts in all)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture(scope="module")
def third_party():
    with loopback_server() as server:
        yield server


def start(third_party, data, *args):
    return LocalStackProcess("--data", str(data), *args,
                             env={"CHATBRIDGE_OUTBOUND_ALLOW": urlsplit(third_party.url_for("/")).hostname})


def items(answer, key):
    """Admin list answers are a list or an object holding one under ``key``."""
    return answer if isinstance(answer, list) else answer.get(key, answer.get("items", []))


def openwa_message(poster, n):
    chat = f"4477009{poster:05d}@c.us"
    return {**SAMPLE_MESSAGE, "id": f"false_{chat}_KILL{poster}X{n}", "body": f"load {poster}-{n}",
            "from": chat, "chatId": chat, "sender": {**SAMPLE_MESSAGE["sender"], "id": chat}}


def post_json(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read() or b"null")


def test_every_webhook_answered_200_before_a_kill_9_mid_load_is_one_message_after_the_restart(third_party, tmp_path):
    """Posters keep sending open-wa messages to the seeded preset's webhook while the stack is killed; what was
    answered 200 must be there once, and nothing (answered or cut off) may be there twice."""
    first = start(third_party, tmp_path, "--seed")
    url = f"{first.url}/webhooks/incoming/{IDENTIFIER}"
    answered, unanswered, lock = [], [], threading.Lock()

    def poster(number):
        for n in range(POSTS_EACH):
            message = openwa_message(number, n)
            try:
                status, _ = post_json(url, message)
            except (urllib.error.URLError, OSError):  # HTTPError (a 5xx) included: not acknowledged
                status = None
            with lock:
                (answered if status == 200 else unanswered).append(message["body"])

    threads = [threading.Thread(target=poster, args=(number,), daemon=True) for number in range(POSTERS)]
    for thread in threads:
        thread.start()
    eventually(lambda: len(answered) >= KILL_AFTER, timeout=90, stack=first)
    first.kill()
    for thread in threads:
        thread.join(90)
    with lock:
        acknowledged = list(answered)
    assert len(acknowledged) < POSTERS * POSTS_EACH, "the load ended before the kill: nothing was cut off"

    second = start(third_party, tmp_path)
    try:
        client = ChatbridgeClient(second.url)
        chats = [chat for chat in items(client.list_chats(incoming=IDENTIFIER), "chats")
                 if chat["incoming_chat"]["chat_external_id"].startswith("4477009")]
        external_ids = [chat["incoming_chat"]["chat_external_id"] for chat in chats]
        assert len(external_ids) == len(set(external_ids)), f"a chat stored twice: {external_ids}"
        stored = [message["msg"] for chat in chats for message in items(client.list_messages(chat["id"]), "messages")]
    finally:
        assert second.stop() == 0, "".join(second.lines)
    duplicated = sorted({body for body in stored if stored.count(body) > 1})
    assert duplicated == []
    assert sorted(set(acknowledged) - set(stored)) == []


def test_admin_writes_answered_201_read_back_after_a_kill_9(third_party, tmp_path):
    """A spec, a REST API, an outgoing webhook, a secret and an operator's file (an S3 object behind its
    stable link) were each acknowledged; after kill -9 the restarted stack serves every one of them."""
    first = start(third_party, tmp_path)
    client = ChatbridgeClient(first.url)
    spec = {"identifier": "kept-spec", "name": "Kept", "chat_id": "chat", "message_id": "id",
            "text": [{"body": "{{msg.text}}"}]}
    client.apply({
        "rest_apis": [{"id": "kept-send", "method": "POST", "url": third_party.url_for("/kept/send"),
                       "headers": {"Content-Type": "application/json"}, "body": '{"text": {{msg}}}',
                       "timeout": 10}],
        "incoming_webhooks": [spec],
        "webhooks": [{"id": "kept-replies", "event": "chat.web_add_msg_admin", "rest_api_id": "kept-send",
                      "conditions": ["{args.chat.incoming_chat.incoming.identifier} = kept-spec"]}],
    })
    client.put_secret("/chatbridge/kept/api-key", "kept-secret-value")
    status, answer = post_json(f"{first.url}/webhooks/incoming/kept-spec", {"chat": "c-1", "id": "m-1", "text": "hi"})
    assert status == 200, answer
    chat_id = answer["chats"][0]
    uploaded = client.upload_file(chat_id, "receipt.png", PNG)
    link = urlsplit(uploaded["url"])
    assert link.path.startswith("/media/")
    first.kill()

    second = start(third_party, tmp_path)
    try:
        client = ChatbridgeClient(second.url)
        assert client.get_incoming_webhook("kept-spec")["name"] == "Kept"
        rest_apis = items(client.list_rest_apis(), "rest_apis")
        assert [api["url"] for api in rest_apis if api["id"] == "kept-send"] == [third_party.url_for("/kept/send")]
        webhooks = items(client.list_webhooks(), "webhooks")
        assert [hook["rest_api_id"] for hook in webhooks if hook["id"] == "kept-replies"] == ["kept-send"]
        assert "/chatbridge/kept/api-key" in [entry["name"] for entry in items(client.list_secrets(), "secrets")]
        with urllib.request.urlopen(second.url + link.path, timeout=60) as response:  # 302 to moto's S3
            assert response.read() == PNG
        assert [message["msg"] for message in items(client.list_messages(chat_id), "messages")] == ["hi"]
    finally:
        assert second.stop() == 0, "".join(second.lines)


def test_a_reply_waiting_out_its_backoff_at_kill_9_is_sent_exactly_once_after_the_restart(third_party, tmp_path):
    """The third party answers 503 with Retry-After, so the job is hidden in the queue when the stack is
    killed; after the restart it keeps its time, comes back and the now-healthy third party gets it once."""
    third_party.clear()
    healthy = threading.Event()
    accepted = []

    def answer(request):
        from werkzeug import Response

        if not healthy.is_set():
            return Response('{"error": "down"}', status=503, headers={"Retry-After": "8"},
                            content_type="application/json")
        accepted.append(request.get_json())
        return Response('{"ok": true}', status=200, content_type="application/json")

    third_party.expect_request("/later/send", method="POST").respond_with_handler(answer)
    first = start(third_party, tmp_path)
    client = ChatbridgeClient(first.url)
    client.apply({
        "rest_apis": [{"id": "later-send", "method": "POST", "url": third_party.url_for("/later/send"),
                       "headers": {"Content-Type": "application/json"}, "body": '{"text": {{msg}}}',
                       "timeout": 10}],
        "incoming_webhooks": [{"identifier": "later", "name": "Later", "chat_id": "chat", "message_id": "id",
                               "text": [{"body": "{{msg.text}}"}]}],
        "webhooks": [{"id": "later-replies", "event": "chat.web_add_msg_admin", "rest_api_id": "later-send",
                      "conditions": ["{args.chat.incoming_chat.incoming.identifier} = later"]}],
    })
    chat_id = post_json(f"{first.url}/webhooks/incoming/later", {"chat": "c-1", "id": "m-1", "text": "hi"})[1]["chats"][0]
    client.reply(chat_id, "sent once after the crash")
    eventually(lambda: [d for d in items(client.list_deliveries(chat_id=chat_id), "deliveries")
                        if d.get("status") == "retrying"], timeout=60, stack=first)
    first.kill()
    refused = len(third_party.log)
    healthy.set()

    second = start(third_party, tmp_path)
    try:
        client = ChatbridgeClient(second.url)
        eventually(lambda: [d for d in items(client.list_deliveries(chat_id=chat_id), "deliveries")
                            if d.get("status") == "sent"], timeout=60, stack=second)
    finally:
        assert second.stop() == 0, "".join(second.lines)
    assert refused >= 1
    assert accepted == [{"text": "sent once after the crash"}]
