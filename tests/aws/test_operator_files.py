"""Operators' files through the real path on moto: the admin API stores the file in the template's media
bucket (inline, or by the presigned PUT it answers), a message carries it, the stable link redirects to the
bytes, and outgoing webhooks choose on ``args.file`` (one sends text, another files, as in LHC) while the REST
API renders ``{{file_url}}`` and its siblings; every bad upload is a 4xx that says why."""

import base64
import json
import os
import re
import urllib.error
import urllib.request

import boto3
import pytest
import requests

from chatbridge.media.uploads import INLINE_MAX_BYTES, MAX_FILE_BYTES
from chatbridge.repository import media as media_store
from chatbridge.repository import secrets
from support.pipeline import Pipeline
from support.provider_server import ProviderServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
PDF = b"%PDF-1.7\n" + b"0" * 2000
SPEC = {"identifier": "files-test", "name": "Files", "chat_id": "chat", "message_id": "id",
        "text": [{"body": "{{msg.text}}"}]}


@pytest.fixture
def api(template_api, monkeypatch):
    """The template's API over HTTP with its media bucket, and one chat a visitor started (``api.chat``)."""
    media_store.forget_clients()
    boto3.client("s3").create_bucket(Bucket=os.environ["MEDIA_BUCKET"])
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")
    monkeypatch.setenv("MEDIA_BASE_URL", template_api)  # the test server speaks http; API Gateway's domain, https
    secrets.forget_secrets()
    api = Api(template_api)
    assert api.call("PUT", "/admin/incoming-webhooks/files-test", SPEC)[0] == 201
    status, answer = api.call("POST", "/webhooks/incoming/files-test", {"chat": "c1", "id": "m1", "text": "Hi"})
    assert status == 200, answer
    [api.chat] = answer["chats"]
    yield api
    media_store.forget_clients()


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.chat = 0

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def upload(self, content, name="photo.png", media_type=None, chat=None):
        body = {"name": name, "content_base64": base64.b64encode(content).decode()}
        if media_type:
            body["type"] = media_type
        return self.call("POST", f"/admin/chats/{chat or self.chat}/files", body)

    def send(self, file_id, text="", chat=None):
        return self.call("POST", f"/admin/chats/{chat or self.chat}/messages",
                         {"msg": text, "user_id": 1, "file": file_id})


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_an_uploaded_file_is_stored_and_a_message_carries_it_with_its_stable_link(api):
    status, stored = api.upload(PNG, "receipt.png")
    assert status == 201, stored
    file = stored["file"]
    assert (file["name"], file["type"], file["kind"], file["size"]) == ("receipt.png", "image/png", "image", len(PNG))
    assert re.fullmatch(re.escape(api.base) + r"/media/1/[0-9a-f]{64}\.png", file["url"]), file["url"]
    status, answer = api.send(file["id"], "Your receipt")
    assert status == 201, answer
    message = answer["message"]
    assert message["msg"] == f"Your receipt\n[file={file['url']}]" and message["kind"] == "image"
    assert message["file"] == file
    # the stable link answers 302 to a presigned URL of the stored object, as incoming files' links do
    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(NoRedirect).open(file["url"], timeout=30)
    assert redirect.value.code == 302
    assert requests.get(redirect.value.headers["Location"], timeout=30).content == PNG
    stored_object = boto3.client("s3").head_object(Bucket=os.environ["MEDIA_BUCKET"],
                                                   Key="media/" + file["url"].split("/media/", 1)[1])
    assert stored_object["ContentType"] == "image/png"
    assert stored_object["ContentDisposition"].startswith("inline")


def test_a_file_alone_is_a_message_of_its_link(api):
    file = api.upload(PDF, "terms.pdf")[1]["file"]
    status, answer = api.send(file["id"])
    assert status == 201, answer
    assert answer["message"]["msg"] == f"[file={file['url']}]" and answer["message"]["kind"] == "attachment"


def test_one_webhook_sends_text_and_another_sends_files_with_the_file_placeholders(api):
    server = ProviderServer()
    try:
        for rest_api_id, body in (("text-api", '{"text": {{msg_url}}}'),
                                  ("file-api", '{"url": {{file_url}}, "name": {{file_name}}, "type": {{file_type}}, '
                                               '"kind": {{file_kind}}, "size": {{file_size}}, "caption": {{msg_clean}}}')):
            assert api.call("PUT", f"/admin/rest-apis/{rest_api_id}", {
                "url": f"{server.url}/{rest_api_id}", "body": body,
                "headers": {"Content-Type": "application/json"}})[0] == 201
        for webhook_id, rest_api_id, condition in (("texts", "text-api", "{args.file.url} empty"),
                                                   ("files", "file-api", "{args.file.kind} notempty")):
            assert api.call("PUT", f"/admin/webhooks/{webhook_id}", {
                "event": "chat.web_add_msg_admin", "rest_api_id": rest_api_id,
                "conditions": ["{args.chat.iwh_id} = 1", condition]})[0] == 201
        pipeline = Pipeline(os.environ["CHAT_TABLE"], os.environ["DISPATCH_QUEUE_URL"])
        assert api.call("POST", f"/admin/chats/{api.chat}/messages", {"msg": "Hello", "user_id": 1})[0] == 201
        file = api.upload(PDF, "terms.pdf")[1]["file"]
        assert api.send(file["id"], "Our terms")[0] == 201
        pipeline.pump()
        assert [(r.path, r.json()) for r in server.received] == [
            ("/text-api", {"text": "Hello"}),
            ("/file-api", {"url": file["url"], "name": "terms.pdf", "type": "application/pdf", "kind": "attachment",
                           "size": len(PDF), "caption": "Our terms"})]
        messages = api.call("GET", f"/admin/chats/{api.chat}/messages")[1]["messages"]
        assert [m["delivery"] for m in messages if m["user_id"] == 1] == ["sent", "sent"]
    finally:
        server.stop()


def test_a_file_larger_than_inline_takes_the_presigned_put_and_is_checked_when_sent(api):
    content = PDF + b"1" * (INLINE_MAX_BYTES + 1 - len(PDF))
    status, refused = api.upload(content, "big.pdf")
    assert status == 413 and "presigned upload" in refused["reason"], refused
    status, answer = api.call("POST", f"/admin/chats/{api.chat}/files", {"name": "big.pdf", "size": len(content)})
    assert status == 201, answer
    upload, file = answer["upload"], answer["file"]
    assert upload["method"] == "PUT" and upload["headers"]["Content-Type"] == "application/pdf"
    status, early = api.send(file["id"])
    assert status == 422 and "must be PUT before the message" in early["reason"], early
    put = requests.put(upload["url"], data=content, headers=upload["headers"], timeout=30)  # moto answers S3's PUT
    assert put.status_code == 200, put.text
    status, sent = api.send(file["id"], "All of it")
    assert status == 201, sent
    assert sent["message"]["file"] == {**file, "size": len(content)}


@pytest.mark.parametrize(("content", "name", "media_type", "status", "reason"), [
    (b"", "empty.pdf", None, 422, "the file is empty"),
    (b"<html><script>alert(1)</script></html>", "page.html", None, 415, "text/html is not a type operators may send"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg", None, 415, "image/svg+xml is not a type"),
    (b"MZ\x90\x00", "setup.exe", None, 415, "is not a type operators may send"),
    (b"<html>not a picture</html>", "photo.png", None, 415, "the content is not image/png"),
    (b"%PDF-1.7", "no-type", None, 415, "unknown (the name 'no-type' does not say"),
    (PNG, "photo.png", "application/x-sh", 415, "application/x-sh is not a type"),
])
def test_a_refused_upload_says_why(api, content, name, media_type, status, reason):
    answered, answer = api.upload(content, name, media_type)
    assert answered == status and reason in answer["reason"], answer
    assert not boto3.client("s3").list_objects_v2(Bucket=os.environ["MEDIA_BUCKET"]).get("Contents")


def test_bad_upload_requests_are_4xx_with_a_reason(api):
    chat = f"/admin/chats/{api.chat}/files"
    cases = [
        (api.call("POST", "/admin/chats/999999/files", {"name": "a.png", "content_base64": "iVBORw=="}), 404,
         "no chat '999999'"),
        (api.call("POST", chat, {"name": "a.png", "content_base64": "not base64!"}), 400, "not valid base64"),
        (api.call("POST", chat, {"name": "a.png"}), 422, "give content_base64"),
        (api.call("POST", chat, {"name": "a.pdf", "size": MAX_FILE_BYTES + 1}), 413, f"at most {MAX_FILE_BYTES}"),
        (api.call("POST", chat, {"name": "/", "size": 10}), 422, "the file needs a name"),
        (api.call("POST", chat, ["a.png"]), 400, "must be a JSON object"),
        (api.call("POST", chat, {"name": "a.png", "size": 1, "url": "http://169.254.169.254/"}), 422, "url"),
    ]
    for (status, answer), expected, reason in cases:
        assert status == expected and reason in answer["reason"], (expected, answer)


def test_a_message_names_only_a_file_uploaded_for_its_own_chat(api):
    status, other = api.call("POST", "/webhooks/incoming/files-test", {"chat": "c2", "id": "m2", "text": "Hey"})
    [other_chat] = other["chats"]
    file = api.upload(PNG, chat=other_chat)[1]["file"]
    for file_id, reason in ((file["id"], f"was not uploaded for chat {api.chat}"),
                            ("0" * 64 + ".png", "nothing is stored as"),
                            ("../../etc/passwd", "is not a file id")):
        status, answer = api.send(file_id)
        assert status == 422 and reason in answer["reason"], answer
    status, answer = api.call("POST", f"/admin/chats/{api.chat}/messages", {"msg": " ", "user_id": 1})
    assert status == 422 and "the message is empty" in answer["reason"]
    status, answer = api.send(file["id"], chat=999999)
    assert status == 404


def test_a_missing_bucket_is_503_and_writes_no_message(api, monkeypatch):
    boto3.client("s3").delete_bucket(Bucket=os.environ["MEDIA_BUCKET"])
    status, answer = api.upload(PNG)
    assert status == 503 and "retry" in answer["reason"], answer
    status, answer = api.send("a" * 64 + ".png", "Here")
    assert status == 503, answer
    messages = api.call("GET", f"/admin/chats/{api.chat}/messages")[1]["messages"]
    assert [m["user_id"] for m in messages] == [0]
    monkeypatch.delenv("MEDIA_BUCKET")
    for status, answer in (api.upload(PNG), api.send("a" * 64 + ".png")):
        assert status == 503 and "no media bucket" in answer["reason"], answer


def test_a_rest_api_that_knows_nothing_of_files_sends_the_link_as_text(api):
    server = ProviderServer()
    try:
        assert api.call("PUT", "/admin/rest-apis/send-text", {
            "url": f"{server.url}/send", "body": '{"text": {{msg_url}}, "plain": {{msg_clean}}, "file": {{file_url}}}',
            "headers": {"Content-Type": "application/json"}})[0] == 201
        assert api.call("PUT", "/admin/webhooks/all", {"event": "chat.web_add_msg_admin", "rest_api_id": "send-text",
                                                       "conditions": ["{args.chat.iwh_id} = 1"]})[0] == 201
        pipeline = Pipeline(os.environ["CHAT_TABLE"], os.environ["DISPATCH_QUEUE_URL"])
        file = api.upload(PNG, "map.png")[1]["file"]
        assert api.send(file["id"], "Find us here")[0] == 201
        assert api.call("POST", f"/admin/chats/{api.chat}/messages", {"msg": "Thanks", "user_id": 1})[0] == 201
        pipeline.pump()
        assert sorted((r.json() for r in server.received), key=lambda body: body["plain"]) == [
            {"text": f"Find us here\n{file['url']}", "plain": "Find us here", "file": file["url"]},
            {"text": "Thanks", "plain": "Thanks", "file": None}]
    finally:
        server.stop()
