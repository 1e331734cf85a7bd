"""An LHC open-wa setup moved over whole: the incoming webhook and Rest API exports, in the shape LHC's open-wa guide
ships them, go through ``chatbridge import-lhc`` and ``chatbridge webhooks apply`` into an empty stack. open-wa's
text and image webhooks are then posted to the real ingest handler (moto), the image fetched through
``decryptMedia`` from a loopback open-wa, and an operator's reply goes through the stream, evaluator, queue and
dispatcher to ``<attributes.host>/sendText``, as LHC would send it. An operator's file, uploaded through
``POST /admin/chats/{id}/files`` and sent in a reply, goes to ``<attributes.host>/sendFile`` with the file's
URL and name (the Rest API method's ``suburl_file`` + ``body_raw_file``); with text beside it, LHC's export
(no ``{{msg_clean}}`` in ``body_raw_file``) sends the text request with the file's link instead.

As the guide tells an LHC admin, only the server address is changed in the exports (``server:8002`` -> the
loopback stand-in): nothing is edited after the import.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import urllib.parse

import boto3
import pytest

from chatbridge.cli import import_lhc, webhooks
from chatbridge.repository import media as media_store
from chatbridge.repository import secrets
from support.paths import FIXTURES, PAYLOADS
from support.pipeline import Pipeline
from support.provider_server import ProviderServer

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
EXPORT_HOST = "http://openwa.internal:8002"


def cli(module, *argv):
    parser = argparse.ArgumentParser(prog="chatbridge")
    module.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def openwa():
    server = ProviderServer()
    yield server
    server.stop()


@pytest.fixture
def imported(template_api, openwa, tmp_path, monkeypatch):
    """The LHC exports imported and applied into the empty stack; yields the API's base URL."""
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")  # open-wa's stand-in is on loopback
    secrets.forget_secrets()
    media_store.forget_clients()
    if os.environ["MEDIA_BUCKET"] not in {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}:
        boto3.client("s3").create_bucket(Bucket=os.environ["MEDIA_BUCKET"])
    files = []
    for name in ("lhc_openwa_guide_incoming.json", "lhc_openwa_guide_restapi.json"):
        path = tmp_path / name
        path.write_text((FIXTURES / name).read_text().replace(EXPORT_HOST, openwa.url))
        files.append(str(path))
    setup = tmp_path / "setup.json"
    assert cli(import_lhc, "import-lhc", *files, "-o", str(setup)) == 0
    assert cli(webhooks, "webhooks", "apply", "-f", str(setup), "--endpoint", template_api) == 0
    yield template_api
    media_store.forget_clients()


def open_wa_posts(endpoint, message):
    """open-wa's webhook as LHC's guide configures it: the event, the message in ``data``."""
    from test_presets_replies import request

    status, answer = request(endpoint, "POST", "/webhooks/incoming/open-wa-guide",
                             json.dumps({"event": "onMessage", "data": message}).encode(),
                             headers={"Content-Type": "application/json"})
    assert status == 200, answer
    return answer


def sample(name):
    return json.loads((PAYLOADS / "openwa" / name).read_text())


def test_an_imported_lhc_open_wa_setup_answers_text_and_image_and_replies_like_lhc(imported, openwa):
    from test_presets_replies import get, request

    answer = open_wa_posts(imported, sample("openwa_v5docs_incoming_text.json"))
    assert answer["messages"] == 1
    [chat_id] = answer["chats"]
    assert open_wa_posts(imported, sample("openwa_v5docs_incoming_location.json"))["messages"] == 1  # msg_body_2

    openwa.answer = (200, {"success": True, "response": "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()})
    image = sample("openwa_v5docs_incoming_image.json")  # body null, as open-wa sends images: LHC still stores it
    answer = open_wa_posts(imported, image)
    assert answer["messages"] == 1 and answer["chats"] == [chat_id]
    [decrypt] = openwa.received
    assert (decrypt.method, decrypt.path) == ("POST", "/decryptMedia")
    assert decrypt.json() == {"args": {"message": image["id"]}}
    messages = get(imported, f"/admin/chats/{chat_id}/messages")["messages"]
    assert [m["msg"] for m in messages][:2] == ["Hi, is my order ready?", "London\n51.5074,-0.1278"]
    link = messages[2]["msg"]
    assert messages[2]["kind"] == "image" and "/media/" in link and link.endswith(".jpg"), messages[2]
    assert urllib.parse.urlsplit(link).path.startswith("/media/1/"), link  # the stable link to the stored file
    [stored] = boto3.client("s3").list_objects_v2(Bucket=os.environ["MEDIA_BUCKET"])["Contents"]
    assert boto3.client("s3").get_object(Bucket=os.environ["MEDIA_BUCKET"], Key=stored["Key"])["Body"].read() == JPEG

    openwa.received.clear()
    openwa.answer = (200, {"success": True, "response": "true_447700900000@c.us_3EB0"})
    pipeline = Pipeline(os.environ["CHAT_TABLE"], os.environ["DISPATCH_QUEUE_URL"])  # reads the stream from now
    status, _ = request(imported, "POST", f"/admin/chats/{chat_id}/messages",
                        {"msg": "Ready [url=https://shop.example/o/1]track it[/url]", "user_id": 1})
    assert status in (200, 201)
    pipeline.pump()
    [sent] = openwa.received
    assert (sent.method, sent.path) == ("POST", "/sendText")  # the host is the spec's attribute, as in LHC
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json() == {"args": {"to": "447700900000@c.us", "content": "Ready https://shop.example/o/1"}}
    assert get(imported, f"/admin/chats/{chat_id}/messages")["messages"][-1]["delivery"] == "sent"


PDF = b"%PDF-1.7\n" + b"0" * 1000


def test_an_imported_lhc_open_wa_setup_sends_an_operators_file_as_lhcs_file_request(imported, openwa, monkeypatch):
    from test_presets_replies import get, request

    monkeypatch.setenv("MEDIA_BASE_URL", imported)
    [chat_id] = open_wa_posts(imported, sample("openwa_v5docs_incoming_text.json"))["chats"]
    pipeline = Pipeline(os.environ["CHAT_TABLE"], os.environ["DISPATCH_QUEUE_URL"])
    openwa.answer = (200, {"success": True, "response": "true_447700900000@c.us_3EB1"})
    sent = []
    for text in ("", "Your receipt"):
        status, upload = request(imported, "POST", f"/admin/chats/{chat_id}/files",
                                 {"name": "receipt.pdf", "content_base64": base64.b64encode(PDF).decode()})
        assert status == 201 and upload["status"] == "stored", upload
        file = upload["file"]
        status, answer = request(imported, "POST", f"/admin/chats/{chat_id}/messages",
                                 {"msg": text, "file": file["id"], "user_id": 1})
        assert status in (200, 201), answer
        openwa.received.clear()
        pipeline.pump()
        [call] = openwa.received
        sent.append((call.method, call.path, call.json()))
        message = get(imported, f"/admin/chats/{chat_id}/messages")["messages"][-1]
        assert message["delivery"] == "sent" and message["file"]["url"] == file["url"], message
        [stored] = [o for o in boto3.client("s3").list_objects_v2(Bucket=os.environ["MEDIA_BUCKET"])["Contents"]
                    if o["Key"].endswith(file["id"])]
        assert boto3.client("s3").get_object(Bucket=os.environ["MEDIA_BUCKET"], Key=stored["Key"])["Body"].read() == PDF
    [(_, _, alone), (_, _, with_text)] = sent
    link = alone["args"]["file"]
    assert sent[0][:2] == ("POST", "/sendFile")  # the host is the spec's attribute, as for text
    assert alone == {"args": {"to": "447700900000@c.us", "filename": "receipt.pdf", "file": link}}
    assert re.fullmatch(re.escape(imported) + r"/media/1/[0-9a-f]{64}\.pdf", link)
    assert sent[1][:2] == ("POST", "/sendText")  # text beside the file: LHC's text request, the link in {{msg_url}}
    assert with_text["args"]["to"] == "447700900000@c.us"
    assert re.fullmatch(r"Your receipt\n" + re.escape(imported) + r"/media/1/[0-9a-f]{64}\.pdf",
                        with_text["args"]["content"])
