"""Each preset's media fetch, end to end through the ingest's own code: the preset's spec maps a sample
payload, ``media_ingest.store_media`` reads the fetch's secrets from SSM (moto), fetches from a real local
HTTP server standing in for the provider's media host, and stores the file in the media bucket (moto).

The provider host is swapped only through what an operator could change too (``base_url``), or, where
the payload chooses the host (Messenger), by adding the test server to ``hosts`` in a copy of the spec; the
production host lists are asserted as they ship, and shown to refuse a host that is not the provider's.
"""

import base64
import copy
import os

import boto3
import pytest

from chatbridge.media.ingest import store_media
from chatbridge.presets import build, get_preset
from chatbridge.repository import media as media_store
from chatbridge.repository import secrets
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from support.presets import PARAMETERS, load

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 16
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8
LINK_BASE = "https://chat.example.com"
SPEC_ID = 5


@pytest.fixture
def media_aws(aws_stack, monkeypatch):  # noqa: F811
    """The template's tables plus the media bucket; loopback (both names of it) allowed for the test server."""
    media_store.forget_clients()
    secrets.forget_secrets()
    boto3.client("s3").create_bucket(Bucket=os.environ["MEDIA_BUCKET"])
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1,localhost")
    yield aws_stack
    media_store.forget_clients()
    secrets.forget_secrets()


def setup_of(name, **values):
    setup = build(get_preset(name), identifier=f"{name}-test", values={**PARAMETERS[name], **values},
                  webhook_base="https://x.test")
    for secret in setup.ssm_secrets:
        boto3.client("ssm").put_parameter(Name=secret.name, Value=f"{secret.parameter}-value", Type="SecureString",
                                          Overwrite=True)
    return setup


def the_message(incoming_webhook, payload):
    spec = IncomingWebhookSpec.model_validate({**incoming_webhook, "id": SPEC_ID})
    result = map_payload(spec, payload)
    assert result.accepted, result.reason
    [chat] = result.chats
    [message] = chat.messages
    return message


def stored(incoming_webhook, payload, dedup_id="d1"):
    """(the stored body, the S3 object or None) for a payload's only message."""
    [result] = store_media(SPEC_ID, [(dedup_id, the_message(incoming_webhook, payload))], base_url=LINK_BASE)
    if result.key is None:
        return result.body, None
    return result.body, boto3.client("s3").get_object(Bucket=os.environ["MEDIA_BUCKET"], Key=result.key)


def link_of(body):
    return body.rsplit("[file=", 1)[1].rstrip("]")


# -- open-wa: decryptMedia ------------------------------------------------------------------------------

def test_open_wa_image_is_fetched_through_decrypt_media_with_the_api_key(media_aws, httpserver):
    setup = setup_of("open-wa", base_url=httpserver.url_for("/wa"))
    payload = load("openwa", "openwa_v5docs_incoming_image.json")
    data_url = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    httpserver.expect_oneshot_request("/wa/decryptMedia", method="POST",
                                      json={"args": {"message": payload["id"]}}).respond_with_json(
        {"success": True, "response": data_url})
    body, s3_object = stored(setup.incoming_webhook, payload)
    assert body.startswith("Receipt from today\n[file=https://chat.example.com/media/5/") and body.endswith(".jpg]")
    assert (s3_object["Body"].read(), s3_object["ContentType"]) == (JPEG, "image/jpeg")
    # werkzeug's server drops header names with '_', so the key is checked on the request as sent
    fetch = the_message(setup.incoming_webhook, payload).media.fetch
    assert fetch.with_secrets(secrets.resolve_secrets(fetch.secret_names)).headers["api_key"] == "api_key-value"


def test_open_wa_document_keeps_its_file_name_and_reaches_the_same_call_in_the_v5_envelope(media_aws, httpserver):
    setup = setup_of("open-wa", base_url=httpserver.url_for("/wa"))
    message = {**load("openwa", "openwa_v5docs_incoming_image.json"), "type": "document", "caption": None,
               "mimetype": "application/pdf", "filename": "invoice 7.pdf", "id": "false_447700900000@c.us_DOC1"}
    envelope = {"event": "onMessage", "payload": {"message": message}}
    httpserver.expect_oneshot_request("/wa/decryptMedia", method="POST",
                                      json={"args": {"message": message["id"]}}).respond_with_json(
        {"success": True, "response": "data:application/pdf;base64," + base64.b64encode(PDF).decode()})
    body, s3_object = stored(setup.incoming_webhook, envelope)
    assert body.startswith("[document] invoice 7.pdf\n[file=") and link_of(body).endswith(".pdf")
    assert s3_object["Body"].read() == PDF
    assert s3_object["ContentDisposition"] == "inline; filename*=UTF-8''invoice%207.pdf"


def test_open_wa_without_its_api_key_in_ssm_keeps_the_message_and_says_why(media_aws, httpserver):
    setup = setup_of("open-wa", base_url=httpserver.url_for("/wa"), api_key="ssm:/chatbridge/nobody/key")
    boto3.client("ssm").delete_parameter(Name="/chatbridge/nobody/key")
    body, s3_object = stored(setup.incoming_webhook, load("openwa", "openwa_v5docs_incoming_image.json"))
    assert s3_object is None and httpserver.log == []
    assert body == ("Receipt from today\n[file not fetched: the SSM parameter(s) /chatbridge/nobody/key of its "
                    "headers or URL do not exist or cannot be read]")


# -- Twilio: MediaUrl0 with basic auth, redirected to the CDN -------------------------------------------

def twilio_mms(media_url, content_type="image/jpeg"):
    payload = load("twilio", "courier_receiveMediaWithMsg.txt")
    payload.update({"NumMedia": "1", "MediaUrl0": media_url, "MediaContentType0": content_type})
    payload.pop("MediaUrl1")
    return payload


def test_twilio_media_is_fetched_with_basic_auth_and_the_cdn_redirect_gets_no_credentials(media_aws, httpserver):
    api = httpserver.url_for("/")  # http://localhost:<port>/: the "api.twilio.com" of this test
    setup = setup_of("twilio", base_url=api)
    assert setup.incoming_webhook["image"]["fetch"]["hosts"] == ["localhost"]
    media_path = f"/2010-04-01/Accounts/{PARAMETERS['twilio']['account_sid']}/Messages/MM1/Media/ME1"
    cdn = httpserver.url_for("/media.twiliocdn.com/ME1").replace("localhost", "127.0.0.1")
    httpserver.expect_oneshot_request(media_path, headers={"Authorization": "Basic basic_auth-value"}).respond_with_data(
        "", status=307, headers={"Location": cdn})
    httpserver.expect_oneshot_request("/media.twiliocdn.com/ME1").respond_with_data(
        JPEG, content_type="application/octet-stream")
    body, s3_object = stored(setup.incoming_webhook, twilio_mms(api.rstrip("/") + media_path))
    assert body.startswith("Msg\n[file=https://chat.example.com/media/5/") and body.endswith(".jpg]")
    assert (s3_object["Body"].read(), s3_object["ContentType"]) == (JPEG, "image/jpeg")  # MediaContentType0 wins
    to_api, to_cdn = (request for request, _ in httpserver.log)
    assert to_api.headers["Authorization"] == "Basic basic_auth-value" and "Authorization" not in to_cdn.headers


def test_twilio_sends_its_credentials_only_to_the_api_host(media_aws, httpserver):
    assert setup_of("twilio").incoming_webhook["image"]["fetch"]["hosts"] == ["api.twilio.com"]
    body, s3_object = stored(setup_of("twilio").incoming_webhook, twilio_mms(httpserver.url_for("/steal")))
    assert s3_object is None and httpserver.log == []
    assert body == "Msg\n[file not fetched: host 'localhost' is not in fetch.hosts (api.twilio.com)]"


# -- Viber: the media URL in the payload, no auth --------------------------------------------------------

def viber_message(**message):
    payload = load("viber", "courier_validMsg.json")
    payload["message"] = message
    return payload


def test_viber_picture_and_file_are_fetched_from_their_media_urls_without_credentials(media_aws, httpserver):
    setup = setup_of("viber")
    httpserver.expect_oneshot_request("/dl/pic.jpg").respond_with_data(JPEG, content_type="image/jpeg")
    httpserver.expect_oneshot_request("/dl/f").respond_with_data(PDF, content_type="application/pdf")
    body, s3_object = stored(setup.incoming_webhook, viber_message(
        type="picture", text="the damage", media=httpserver.url_for("/dl/pic.jpg")))
    assert body.startswith("the damage\n[file=") and s3_object["Body"].read() == JPEG
    body, s3_object = stored(setup.incoming_webhook, viber_message(
        type="file", media=httpserver.url_for("/dl/f"), file_name="terms.pdf", size=len(PDF)), dedup_id="d2")
    assert body.startswith("[file] terms.pdf\n[file=") and link_of(body).endswith(".pdf")
    assert (s3_object["Body"].read(), s3_object["ContentType"]) == (PDF, "application/pdf")
    assert all("Authorization" not in request.headers for request, _ in httpserver.log)


# -- Messenger: payload.url on Facebook's CDN ---------------------------------------------------------------

def test_messenger_fetches_only_from_facebook_cdn_hosts(media_aws, httpserver):
    setup = setup_of("messenger")
    assert setup.incoming_webhook["image"]["fetch"]["hosts"] == ["*.fbcdn.net", "*.fbsbx.com", "*.facebook.com"]
    sample = load("messenger", "courier_attachment.json")  # https://image-url/foo.png: not a Facebook host
    body, s3_object = stored(setup.incoming_webhook, sample)
    assert s3_object is None
    assert body == "[file not fetched: host 'image-url' is not in fetch.hosts (*.fbcdn.net, *.fbsbx.com, *.facebook.com)]"


def test_messenger_image_and_file_attachments_are_fetched_from_payload_urls(media_aws, httpserver):
    incoming = copy.deepcopy(setup_of("messenger").incoming_webhook)
    for kind in ("image", "attachment"):  # the test server stands in for scontent.xx.fbcdn.net
        incoming[kind]["fetch"]["hosts"].append("localhost")
    httpserver.expect_oneshot_request("/v/t1/foo.png").respond_with_data(JPEG, content_type="image/png")
    httpserver.expect_oneshot_request("/v/t2/f").respond_with_data(PDF, content_type="application/pdf")
    sample = load("messenger", "courier_attachment.json")
    attachment = sample["entry"][0]["messaging"][0]["message"]["attachments"][0]
    attachment["payload"]["url"] = httpserver.url_for("/v/t1/foo.png")
    body, s3_object = stored(incoming, sample)
    assert body.startswith("[file=https://chat.example.com/media/5/") and s3_object["Body"].read() == JPEG
    attachment.update(type="file", payload={"url": httpserver.url_for("/v/t2/f")})
    body, s3_object = stored(incoming, sample, dedup_id="d2")
    assert body.startswith("[file]\n[file=") and s3_object["ContentType"] == "application/pdf"



# -- WhatsApp Cloud: the media id's URL from the Graph API, then the file, both with the token ---------------

def test_whatsapp_cloud_image_is_fetched_through_the_graph_media_url_with_the_token(media_aws, httpserver):
    setup = setup_of("whatsapp-cloud", base_url=httpserver.url_for("/"))
    assert setup.incoming_webhook["image"]["fetch"]["hosts"] == ["localhost", "*.fbsbx.com"]
    bearer = {"Authorization": "Bearer token-value"}
    httpserver.expect_oneshot_request("/v21.0/id_image", headers=bearer).respond_with_json(
        {"url": httpserver.url_for("/whatsapp_business/attachments/") + "?mid=id_image&ext=1",
         "mime_type": "image/jpeg", "id": "id_image", "messaging_product": "whatsapp"})
    httpserver.expect_oneshot_request("/whatsapp_business/attachments/", query_string="mid=id_image&ext=1",
                                      headers=bearer).respond_with_data(JPEG, content_type="image/jpeg")
    body, s3_object = stored(setup.incoming_webhook, load("whatsapp_cloud", "courier_image.json"))
    assert body.startswith("Check out my new phone!\n[file=https://chat.example.com/media/5/") and body.endswith(".jpg]")
    assert (s3_object["Body"].read(), s3_object["ContentType"]) == (JPEG, "image/jpeg")
    assert len(httpserver.log) == 2


def test_whatsapp_cloud_document_keeps_its_type_and_caption(media_aws, httpserver):
    setup = setup_of("whatsapp-cloud", base_url=httpserver.url_for("/"))
    httpserver.expect_oneshot_request("/v21.0/id_document").respond_with_json(
        {"url": httpserver.url_for("/attachments/doc")})
    httpserver.expect_oneshot_request("/attachments/doc").respond_with_data(PDF, content_type="application/octet-stream")
    body, s3_object = stored(setup.incoming_webhook, load("whatsapp_cloud", "courier_document.json"))
    assert body.startswith("[document]  80skaraokesonglistartist\n[file=") and link_of(body).endswith(".pdf")
    assert (s3_object["Body"].read(), s3_object["ContentType"]) == (PDF, "application/pdf")  # mime_type wins


def test_whatsapp_cloud_token_does_not_follow_a_media_url_to_a_host_outside_the_list(media_aws, httpserver):
    setup = setup_of("whatsapp-cloud", base_url=httpserver.url_for("/"))
    elsewhere = httpserver.url_for("/steal").replace("localhost", "127.0.0.1")
    httpserver.expect_oneshot_request("/v21.0/id_image").respond_with_json({"url": elsewhere})
    body, s3_object = stored(setup.incoming_webhook, load("whatsapp_cloud", "courier_image.json"))
    assert s3_object is None and [request.path for request, _ in httpserver.log] == ["/v21.0/id_image"]
    assert body == ("Check out my new phone!\n[file not fetched: host '127.0.0.1' is not in fetch.hosts "
                    "(localhost, *.fbsbx.com)]")


@pytest.mark.parametrize("answer, reason", [
    (lambda r: r.respond_with_json({"error": {"message": "Unsupported get request"}}, status=404),
     "resolve step: HTTP 404 from localhost"),
    (lambda r: r.respond_with_data("<html>oops</html>", content_type="text/html"),
     "resolve step: the response is not JSON (it starts '<html>oops</html>')"),
    (lambda r: r.respond_with_json({"id": "id_image"}),
     "resolve step: the response has no text at 'url' (response starts '{ \"id\": \"id_image\" }')"),
    (lambda r: r.respond_with_json({"url": "http://[::1/x"}),  # a retry would fail the same way: never a 503
     "refused: URL 'http://[::1/x' cannot be called: Invalid IPv6 URL"),
    (lambda r: r.respond_with_json({"url": "https://localhost:99999/x"}),
     "refused: URL 'https://localhost:99999/x' cannot be called: Port out of range 0-65535"),
])
def test_whatsapp_cloud_resolve_failure_keeps_the_message_and_says_why(media_aws, httpserver, answer, reason):
    setup = setup_of("whatsapp-cloud", base_url=httpserver.url_for("/"))
    answer(httpserver.expect_oneshot_request("/v21.0/id_image"))
    body, s3_object = stored(setup.incoming_webhook, load("whatsapp_cloud", "courier_image.json"))
    assert s3_object is None and len(httpserver.log) == 1
    assert body == f"Check out my new phone!\n[file not fetched: {reason}]"


def test_whatsapp_cloud_media_off_names_the_media_id_and_fetches_nothing(media_aws):
    setup = setup_of("whatsapp-cloud", media="off")
    assert "fetch" not in setup.incoming_webhook["image"] and "fetch" not in setup.incoming_webhook["attachment"]
    assert the_message(setup.incoming_webhook, load("whatsapp_cloud", "courier_image.json")).body == \
        "[image id_image] Check out my new phone!"


# -- Telegram: getFile, then /file/bot<token>/<file_path>; the token sits in both URLs' path -------------------

TOKEN = "123456:AAE-s3cret_tok"


def telegram_setup(httpserver):
    setup = setup_of("telegram", base_url=httpserver.url_for("/tg"))
    [secret] = setup.ssm_secrets
    boto3.client("ssm").put_parameter(Name=secret.name, Value=TOKEN, Type="SecureString", Overwrite=True)
    return setup


def test_telegram_photo_is_fetched_through_get_file_with_the_token_in_the_path(media_aws, httpserver):
    setup = telegram_setup(httpserver)
    photo = load("telegram", "courier_photoMsg.json")
    largest = photo["message"]["photo"][-1]["file_id"]
    httpserver.expect_oneshot_request(f"/tg/bot{TOKEN}/getFile", query_string=f"file_id={largest}").respond_with_json(
        {"ok": True, "result": {"file_id": largest, "file_size": len(JPEG), "file_path": "photos/file_0.jpg"}})
    httpserver.expect_oneshot_request(f"/tg/file/bot{TOKEN}/photos/file_0.jpg").respond_with_data(
        JPEG, content_type="image/jpeg")
    body, s3_object = stored(setup.incoming_webhook, photo)
    assert body.startswith("Photo Caption\n[file=https://chat.example.com/media/5/") and body.endswith(".jpg]")
    assert (s3_object["Body"].read(), s3_object["ContentType"]) == (JPEG, "image/jpeg")
    assert TOKEN not in body


def test_telegram_document_keeps_its_name_and_type(media_aws, httpserver):
    setup = telegram_setup(httpserver)
    httpserver.expect_oneshot_request(f"/tg/bot{TOKEN}/getFile", query_string="file_id=BQADAQADCgADgtFRRPrv9GQ95f8eAg")\
        .respond_with_json({"ok": True, "result": {"file_path": "documents/file_7.xls"}})
    httpserver.expect_oneshot_request(f"/tg/file/bot{TOKEN}/documents/file_7.xls").respond_with_data(
        PDF, content_type="application/octet-stream")
    body, s3_object = stored(setup.incoming_webhook, load("telegram", "courier_documentMsg.json"))
    assert body.startswith("[application/vnd.ms-excel] TabFig2015prel.xls\n[file=") and link_of(body).endswith(".xls")
    assert (s3_object["Body"].read(), s3_object["ContentType"]) == (PDF, "application/vnd.ms-excel")
    assert s3_object["ContentDisposition"] == "attachment; filename*=UTF-8''TabFig2015prel.xls"


@pytest.mark.parametrize("answer, reason", [
    (lambda r: r.respond_with_json({"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"},
                                   status=400), "resolve step: HTTP 400 from localhost"),
    (lambda r: r.respond_with_data("not json"), "resolve step: the response is not JSON (it starts 'not json')"),
    (lambda r: r.respond_with_json({"ok": True, "result": {"file_id": "x"}}),
     "resolve step: the response has no text at 'result.file_path' (response starts "
     "'{ \"ok\": true, \"result\": { \"file_id\": \"x\" } }')"),
    (lambda r: r.respond_with_json({"ok": True, "result": {"file_path": "../../bot/getMe"}}),
     "the resolve step answered '../../bot/getMe', a path with '.' or '..' segments"),
])
def test_telegram_resolve_failure_keeps_the_message_and_says_why(media_aws, httpserver, answer, reason):
    setup = telegram_setup(httpserver)
    answer(httpserver.expect_oneshot_request(f"/tg/bot{TOKEN}/getFile"))
    body, s3_object = stored(setup.incoming_webhook, load("telegram", "courier_photoMsg.json"))
    assert s3_object is None and len(httpserver.log) == 1
    assert body == f"Photo Caption\n[file not fetched: {reason}]"


def test_telegram_token_is_masked_when_the_server_echoes_the_url(media_aws, httpserver, caplog, capsys):
    setup = telegram_setup(httpserver)
    httpserver.expect_oneshot_request(f"/tg/bot{TOKEN}/getFile").respond_with_data(
        f"Cannot GET /tg/bot{TOKEN}/getFile", content_type="text/html")
    body, s3_object = stored(setup.incoming_webhook, load("telegram", "courier_photoMsg.json"))
    assert s3_object is None
    assert body == "Photo Caption\n[file not fetched: resolve step: the response is not JSON (it starts " \
                   "'Cannot GET /tg/bot***/getFile')]"
    ours = [record.getMessage() for record in caplog.records if record.name != "werkzeug"]  # not the test server's
    assert TOKEN not in "".join(ours) + "".join(capsys.readouterr())


def test_telegram_media_off_names_the_file_id_and_fetches_nothing(media_aws):
    setup = setup_of("telegram", media="off")
    assert "fetch" not in setup.incoming_webhook["attachment"]
    assert the_message(setup.incoming_webhook, load("telegram", "courier_documentMsg.json")).body == \
        "[file BQADAQADCgADgtFRRPrv9GQ95f8eAg] application/vnd.ms-excel TabFig2015prel.xls "
