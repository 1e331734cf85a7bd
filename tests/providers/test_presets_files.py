"""An operator's file reaches every preset's provider in that provider's file format, through the real path:
the provider's sample starts a chat over HTTP, ``chatbridge reply CHAT --file PATH caption`` uploads the file
through the admin API (stored in the template's media bucket on moto) and sends the message, and the stream,
evaluator, queue and dispatcher carry it to a loopback server standing in for the provider's send API. Each
test asserts what that server received against the provider's documented send-by-URL call.

Also: which webhook of a preset takes which file is decided by rule conditions over ``args.file``; every
allowed type is sent exactly one way (never twice, never dropped), and text replies never take a file path.
"""

from __future__ import annotations

import os
import re
import urllib.parse

import boto3
import pytest
from test_presets_replies import FIRST_MESSAGE, SECRET_VALUES, apply_preset, get, post_signed

from chatbridge.cli import main
from chatbridge.media.uploads import ALLOWED_TYPES
from chatbridge.presets import PRESETS
from chatbridge.reply.events import build_args
from chatbridge.reply.webhooks import OutgoingWebhook
from chatbridge.repository import media as media_store
from chatbridge.repository import secrets
from support.paths import PAYLOADS
from support.pipeline import Pipeline
from support.presets import DIRECTORY, PARAMETERS, setup_of
from support.provider_server import ProviderServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n" + b"0" * 1000
DOCX = b"PK\x03\x04" + b"0" * 500
CAPTION = 'Here "it" is \u2714'
FILES = {"photo.png": PNG, "terms.pdf": PDF, "letter.docx": DOCX}


@pytest.fixture
def send_file(template_api, tmp_path, monkeypatch):
    """``send_file(preset, name)``: apply the preset, start a chat with its sample, send ``name`` with the
    caption from the CLI; returns (what the provider received, the file's stable link, the chat's external id)."""
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")
    monkeypatch.setenv("MEDIA_BASE_URL", template_api)
    secrets.forget_secrets()
    media_store.forget_clients()
    boto3.client("s3").create_bucket(Bucket=os.environ["MEDIA_BUCKET"])
    provider = ProviderServer()

    chats: dict[str, int] = {}

    def start_chat(name: str) -> int:
        sample, provider.answer = FIRST_MESSAGE[name]
        identifier = f"{name}-files"
        apply_preset(template_api, name, identifier, base_url=f"{provider.url}/api")
        for secret in {"token", "api_key", "basic_auth"}:
            boto3.client("ssm").put_parameter(Name=f"/chatbridge/{identifier}/{secret}", Value=SECRET_VALUES[secret],
                                              Type="SecureString", Overwrite=True)
        spec = get(template_api, f"/admin/incoming-webhooks/{identifier}")
        status, answer = post_signed(template_api, spec, (PAYLOADS / DIRECTORY[name] / sample).read_bytes())
        assert status == 200 and answer["messages"] == 1, answer
        return answer["chats"][0]

    def run(name: str, file_name: str, caption: str = CAPTION):
        if name not in chats:
            chats[name] = start_chat(name)
        chat_id = chats[name]
        pipeline = Pipeline(os.environ["CHAT_TABLE"], os.environ["DISPATCH_QUEUE_URL"])
        pipeline.pump()  # what came before (the visitor's message fires nothing)
        provider.received.clear()
        path = tmp_path / file_name
        path.write_bytes(FILES[file_name])
        argv = ["reply", str(chat_id), "--file", str(path), *([caption] if caption else []), "--endpoint",
                template_api]
        assert main(argv) == 0
        pipeline.pump()
        message = [m for m in get(template_api, f"/admin/chats/{chat_id}/messages")["messages"] if m["user_id"] == 1][-1]
        assert message["delivery"] == "sent", message
        link = message["file"]["url"]
        assert re.fullmatch(re.escape(template_api) + r"/media/\d+/[0-9a-f]{64}\.[a-z]+", link)
        chat = get(template_api, f"/admin/chats/{chat_id}")
        return sorted(provider.received, key=lambda r: r.path + r.body.decode()), link, \
            chat["incoming_chat"]["chat_external_id"]

    yield run
    provider.stop()
    media_store.forget_clients()


def test_open_wa_sends_images_with_send_image_and_other_files_with_send_file(send_file):
    for file_name, method in (("photo.png", "sendImage"), ("terms.pdf", "sendFile")):
        [received], link, _ = send_file("open-wa", file_name)
        assert (received.method, received.path, received.headers["api_key"]) == ("POST", f"/api/{method}", "openwa-key")
        assert received.json() == {"args": {"to": "447700900000@c.us", "file": link, "filename": file_name,
                                            "caption": CAPTION}}


def test_whatsapp_cloud_sends_an_image_message_and_a_document_by_link(send_file):
    [image], link, to = send_file("whatsapp-cloud", "photo.png")
    assert image.path == "/api/v21.0/106540352242922/messages" and image.headers["Authorization"] == "Bearer EAAG-access-token"
    assert image.json() == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                            "type": "image", "image": {"link": link, "caption": CAPTION}}
    [document], link, _ = send_file("whatsapp-cloud", "terms.pdf", caption="")
    assert document.json()["document"] == {"link": link, "caption": "", "filename": "terms.pdf"}


def test_telegram_sends_photos_documents_it_fetches_and_other_files_as_a_link(send_file):
    [photo], link, chat = send_file("telegram", "photo.png")
    assert photo.path == "/api/botEAAG-access-token/sendPhoto"
    assert photo.json() == {"chat_id": chat, "photo": link, "caption": CAPTION}
    [document], link, _ = send_file("telegram", "terms.pdf")
    assert document.path == "/api/botEAAG-access-token/sendDocument"
    assert document.json() == {"chat_id": chat, "document": link, "caption": CAPTION}
    [text], link, _ = send_file("telegram", "letter.docx")  # Telegram fetches only PDF, ZIP and GIF by URL
    assert text.path == "/api/botEAAG-access-token/sendMessage"
    assert text.json() == {"chat_id": chat, "text": f"{CAPTION}\n{link}"}


def test_twilio_sends_the_media_url_with_the_text_as_body(send_file):
    [received], link, to = send_file("twilio", "photo.png")
    assert received.path == f"/api/2010-04-01/Accounts/{PARAMETERS['twilio']['account_sid']}/Messages.json"
    assert urllib.parse.parse_qs(received.body.decode(), strict_parsing=True) == {
        "To": [to], "From": ["whatsapp:+12028831111"], "Body": [CAPTION], "MediaUrl": [link]}


def test_viber_sends_a_picture_with_its_text_and_a_file_followed_by_its_caption(send_file):
    sender = {"receiver": "xy5/5y6O81+/kbWHpLhBoA==", "min_api_version": 1, "sender": {"name": "Support"}}
    [picture], link, _ = send_file("viber", "photo.png")
    assert picture.path == "/api/pa/send_message" and picture.headers["X-Viber-Auth-Token"] == "EAAG-access-token"
    assert picture.json() == {**sender, "type": "picture", "text": CAPTION, "media": link}
    received, link, _ = send_file("viber", "terms.pdf")
    assert sorted((r.json() for r in received), key=lambda body: body["type"]) == [
        {**sender, "type": "file", "media": link, "size": len(PDF), "file_name": "terms.pdf"},
        {**sender, "type": "text", "text": CAPTION}]


def test_messenger_sends_an_attachment_by_url_and_the_caption_as_text(send_file):
    recipient = {"recipient": {"id": "5678"}, "messaging_type": "RESPONSE"}
    for file_name, kind in (("photo.png", "image"), ("terms.pdf", "file")):
        received, link, _ = send_file("messenger", file_name)
        assert {r.path for r in received} == {"/api/v21.0/me/messages"}
        assert sorted((r.json() for r in received), key=lambda body: "text" in body["message"]) == [
            {**recipient, "message": {"attachment": {"type": kind, "payload": {"url": link, "is_reusable": False}}}},
            {**recipient, "message": {"text": CAPTION}}]
    [alone], _, _ = send_file("messenger", "photo.png", caption="")  # no caption, no empty text message
    assert "attachment" in alone.json()["message"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_allowed_type_is_sent_exactly_one_way_and_never_by_the_text_reply(name):
    setup = setup_of(name)
    text_webhook = OutgoingWebhook.model_validate(setup.outgoing_webhook(1))
    webhooks = [OutgoingWebhook.model_validate(webhook) for webhook in setup.file_webhooks(1)]
    chat = {"id": 5, "iwh_id": 1, "chat_variables": {"iwh_id": 1}}
    for media_type in ALLOWED_TYPES:
        kind = "image" if media_type.startswith("image/") else "attachment"
        for text in ("", "A caption\n"):
            message = {"id": 2, "user_id": 1, "kind": kind, "msg": f"{text}[file=https://x/media/1/f]",
                       "file": {"url": "https://x/media/1/f", "name": "f", "type": media_type, "kind": kind, "size": 9}}
            args = build_args(chat, message)
            fired = [w.id.rsplit("-", 1)[1] for w in webhooks if w.matches("chat.web_add_msg_admin", args)]
            assert not text_webhook.matches("chat.web_add_msg_admin", args)
            assert len([way for way in fired if way != "caption"]) == 1, (media_type, fired)
            assert ("caption" in fired) <= bool(text), (media_type, fired)
    text_only = build_args(chat, {"id": 3, "user_id": 1, "kind": "text", "msg": "Hello"})
    assert text_webhook.matches("chat.web_add_msg_admin", text_only)
    assert not any(w.matches("chat.web_add_msg_admin", text_only) for w in webhooks)
