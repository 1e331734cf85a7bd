"""Media messages through the ingest Lambda on moto: files land in the template's media bucket exactly once,
bodies link them, failed fetches keep the message, and the link route redirects to the stored file."""

import base64
import json
import os
import time
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from werkzeug import Response

from chatbridge.repository import chats
from chatbridge.repository import media as media_store
from support.aws import api_event, call
from support.lambda_context import Context
from support.paths import PAYLOADS
from support.pipeline import load_handler

ingest_app = load_handler("ingest")
media_app = load_handler("media")
admin_app = load_handler("admin")

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
OPENWA_IMAGE = (PAYLOADS / "openwa" / "openwa_v5docs_incoming_image.json").read_text()
URL_SPEC = {"identifier": "url-media", "name": "URL media", "chat_id": "chat", "message_id": "id",
            "text": [{"body": "{{msg.text}}"}],
            "image": {"conditions": "type=image", "body": "{{msg.caption}}", "fetch": {"url": "{{msg.url}}"}}}


@pytest.fixture
def media_stack(aws_stack, monkeypatch):
    """The template's stack plus its media bucket, with loopback allowed (the test server is local)."""
    media_store.forget_clients()
    boto3.client("s3").create_bucket(Bucket=os.environ["MEDIA_BUCKET"])
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")
    monkeypatch.setenv("MEDIA_BASE_URL", "https://chat.example.com")
    yield aws_stack
    media_store.forget_clients()


def put_spec(definition):
    identifier = definition["identifier"]
    return call(admin_app, api_event("PUT", f"/admin/incoming-webhooks/{identifier}", body=definition,
                                     path_parameters={"identifier": identifier},
                                     resource="/admin/incoming-webhooks/{identifier}"))


def post(identifier, body, **event):
    request = api_event("POST", f"/webhooks/incoming/{identifier}", body=body,
                        path_parameters={"identifier": identifier}, resource="/webhooks/incoming/{identifier}")
    request["requestContext"].update(event)
    return call(ingest_app, request)


def image(url, *, id="m1", caption="Look"):
    return {"chat": "c1", "id": id, "type": "image", "url": url, "caption": caption}


def objects():
    answer = boto3.client("s3").list_objects_v2(Bucket=os.environ["MEDIA_BUCKET"])
    return [entry["Key"] for entry in answer.get("Contents", [])]


def only_message(body):
    [message] = chats.list_messages(body["chats"][0])
    return message["msg"]


def follow(link):
    """GET the link through the media function, as API Gateway would call it; the raw proxy response."""
    spec_id, name = urlsplit(link).path.split("/")[-2:]
    return media_app.lambda_handler(api_event("GET", f"/media/{spec_id}/{name}", resource="/media/{spec_id}/{name}",
                                              path_parameters={"spec_id": spec_id, "name": name}), Context())


def test_a_url_in_the_payload_is_fetched_stored_and_linked_from_the_body(media_stack, httpserver):
    httpserver.expect_request("/photo.png").respond_with_data(PNG, content_type="image/png")
    assert put_spec(URL_SPEC)[0] == 201
    status, body = post("url-media", image(httpserver.url_for("/photo.png")))
    assert status == 200 and body["messages"] == 1
    [key] = objects()
    assert only_message(body) == f"Look\n[file=https://chat.example.com/{key}]"
    stored = boto3.client("s3").get_object(Bucket=os.environ["MEDIA_BUCKET"], Key=key)
    assert stored["Body"].read() == PNG
    assert (stored["ContentType"], stored["ContentDisposition"]) == ("image/png", "inline")
    assert stored.get("ServerSideEncryption") in (None, "AES256")


def test_the_link_redirects_to_a_short_lived_presigned_url_of_the_file(media_stack, httpserver):
    httpserver.expect_request("/photo.png").respond_with_data(PNG, content_type="image/png")
    put_spec(URL_SPEC)
    post("url-media", image(httpserver.url_for("/photo.png")))
    [key] = objects()
    response = follow(f"https://chat.example.com/{key}")
    assert response["statusCode"] == 302
    location = (response.get("headers") or {}).get("Location") or response["multiValueHeaders"]["Location"][0]
    assert f"/{key}?" in location and "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location
    fetched = requests.get(location, timeout=5)  # moto answers S3 URLs, presigned ones included
    assert (fetched.status_code, fetched.content) == (200, PNG)


@pytest.mark.parametrize("spec_id, name", [("1", "0" * 64 + ".png"), ("1", "../../etc"), ("x", "a" * 64)])
def test_a_link_to_no_stored_file_is_404(media_stack, spec_id, name):
    status, body = call(media_app, api_event("GET", f"/media/{spec_id}/{name}", resource="/media/{spec_id}/{name}",
                                             path_parameters={"spec_id": spec_id, "name": name}))
    assert (status, body["status"]) == (404, "not_found")


def test_the_link_base_is_the_api_the_webhook_came_in_on(media_stack, httpserver, monkeypatch):
    monkeypatch.setenv("MEDIA_BASE_URL", "")
    httpserver.expect_request("/photo.png").respond_with_data(PNG, content_type="image/png")
    put_spec(URL_SPEC)
    _, body = post("url-media", image(httpserver.url_for("/photo.png")),
                   domainName="abc123.execute-api.eu-west-1.amazonaws.com", stage="Prod")
    [key] = objects()
    assert only_message(body).endswith(f"[file=https://abc123.execute-api.eu-west-1.amazonaws.com/Prod/{key}]")


def test_openwa_image_with_decrypt_media_end_to_end(media_stack, httpserver):
    """The shared open-wa image payload; decryptMedia (open-wa's EASY API) answers a data URL."""
    payload = json.loads(OPENWA_IMAGE)
    httpserver.expect_request("/decryptMedia", method="POST", headers={"key": "wa-key"},
                              json={"args": {"message": payload["id"]}}).respond_with_json(
        {"success": True, "response": "data:image/jpeg;base64," + base64.b64encode(PNG).decode()})
    spec = {"identifier": "openwa-media", "name": "WhatsApp", "chat_id": "from", "message_id": "id", "time": "t",
            "conditions": "fromMe=false", "attributes": {"openwa": httpserver.url_for(""), "key": "wa-key"},
            "text": [{"conditions": "type=chat", "body": "{{msg.body}}"}],
            "image": {"conditions": "type=image", "body": "{{msg.caption}}\n{{file_url}}", "fetch": {
                "url": "{{attributes.openwa}}decryptMedia", "method": "POST", "headers": {"key": "{{attributes.key}}"},
                "body": '{"args": {"message": {{msg.id}}}}', "response": "data_url", "location": "response",
                "content_type": "{{msg.mimetype}}"}}}
    assert put_spec(spec)[0] == 201
    status, body = post("openwa-media", OPENWA_IMAGE)
    assert status == 200 and body["messages"] == 1
    [key] = objects()
    assert key.startswith("media/1/") and key.endswith(".jpg")
    assert only_message(body) == f"Receipt from today\nhttps://chat.example.com/{key}"
    stored = boto3.client("s3").get_object(Bucket=os.environ["MEDIA_BUCKET"], Key=key)
    assert (stored["Body"].read(), stored["ContentType"]) == (PNG, "image/jpeg")


def test_a_retried_delivery_stores_one_message_and_one_object_and_fetches_once(media_stack, httpserver):
    httpserver.expect_request("/photo.png").respond_with_data(PNG, content_type="image/png")
    put_spec(URL_SPEC)
    payload = image(httpserver.url_for("/photo.png"))
    first = post("url-media", payload)[1]
    status, again = post("url-media", payload)
    assert status == 200 and (again["messages"], again["duplicates"]) == (0, 1)
    assert len(chats.list_messages(first["chats"][0])) == 1
    assert len(objects()) == 1 and len(httpserver.log) == 1


def test_a_message_without_provider_id_dedups_its_file_on_retry_too(media_stack, httpserver):
    httpserver.expect_request("/photo.png").respond_with_data(PNG, content_type="image/png")
    put_spec({**URL_SPEC, "message_id": ""})
    payload = image(httpserver.url_for("/photo.png"))
    chat_id = post("url-media", payload)[1]["chats"][0]
    assert post("url-media", payload)[1]["duplicates"] == 1
    assert len(chats.list_messages(chat_id)) == 1 and len(objects()) == 1


def _slow(request):
    time.sleep(1.5)
    return Response(PNG)


@pytest.mark.parametrize("setup, fetch, reason", [
    (lambda s: s.expect_request("/f").respond_with_data("gone", status=404), {}, "HTTP 404 from"),
    (lambda s: s.expect_request("/f").respond_with_data(b"x" * 3000), {"max_bytes": 1000},
     "larger than 1000 bytes"),
    (lambda s: s.expect_request("/f").respond_with_handler(_slow), {"timeout": 0.5}, "timed out after 0.5 s"),
])
def test_a_failed_fetch_keeps_the_message_and_says_why(media_stack, httpserver, setup, fetch, reason):
    setup(httpserver)
    put_spec({**URL_SPEC, "image": {**URL_SPEC["image"], "fetch": {"url": "{{msg.url}}", **fetch}}})
    status, body = post("url-media", image(httpserver.url_for("/f")))
    assert status == 200 and body["messages"] == 1
    text = only_message(body)
    assert text.startswith("Look\n[file not fetched: ") and reason in text
    assert objects() == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/iam/", "http://10.1.2.3/x.png"])
def test_internal_addresses_are_refused_and_the_message_is_kept(media_stack, monkeypatch, url):
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "")
    put_spec(URL_SPEC)
    status, body = post("url-media", image(url))
    assert status == 200
    assert "[file not fetched: refused: " in only_message(body) and "internal address" in only_message(body)
    assert objects() == []


BAD_URLS = [("http://[::1/x.png", "Invalid IPv6 URL"), ("http://127.0.0.1:99999/x.png", "Port out of range"),
            ("http://127.0.0.1:0/x.png", "port 0")]


@pytest.mark.parametrize("url, reason", BAD_URLS)
@pytest.mark.parametrize("hosts", [[], ["127.0.0.1"]])
def test_a_media_url_that_cannot_be_parsed_is_a_failed_fetch_not_a_503(media_stack, caplog, url, reason, hosts):
    """The same URL fails the same way every time: a 503 would make the provider retry it forever."""
    put_spec({**URL_SPEC, "image": {**URL_SPEC["image"], "fetch": {"url": "{{msg.url}}", "hosts": hosts}}})
    status, body = post("url-media", [image(url), {"chat": "c1", "id": "t1", "type": "text", "text": "and hi"}])
    assert status == 200 and body["messages"] == 2
    texts = [message["msg"] for message in chats.list_messages(body["chats"][0])]
    assert texts[0].startswith("Look\n[file not fetched: refused: URL ") and reason in texts[0]
    assert texts[1] == "and hi" and objects() == []
    [warning] = [record for record in caplog.records if record.getMessage() == "stored without their files"]
    assert reason in warning.failures[0]["reason"]  # logged as every failed fetch is (and FileFetchFailures)


class VerbatimLocation(Response):
    """werkzeug rewrites ``Location`` (and raises on one it cannot parse); a third party's server need not."""

    def get_wsgi_headers(self, environ):
        return self.headers


@pytest.mark.parametrize("location, reason", BAD_URLS + [("//[::1", "Invalid IPv6 URL")])
def test_a_redirect_to_a_url_that_cannot_be_parsed_is_a_failed_fetch_not_a_503(media_stack, httpserver, location,
                                                                               reason):
    httpserver.expect_request("/moved").respond_with_response(
        VerbatimLocation("", status=302, headers={"Location": location}))
    put_spec(URL_SPEC)
    status, body = post("url-media", image(httpserver.url_for("/moved")))
    assert status == 200 and body["messages"] == 1
    text = only_message(body)
    assert text.startswith("Look\n[file not fetched: refused: ") and reason in text
    assert len(httpserver.log) == 1 and objects() == []


def test_storage_trouble_answers_503_writes_nothing_and_the_retry_stores_once(media_stack, httpserver):
    httpserver.expect_request("/photo.png").respond_with_data(PNG, content_type="image/png")
    put_spec(URL_SPEC)
    s3 = boto3.client("s3")
    s3.delete_bucket(Bucket=os.environ["MEDIA_BUCKET"])
    payload = image(httpserver.url_for("/photo.png"))
    status, body = post("url-media", payload)
    assert (status, body["status"]) == (503, "unavailable")
    assert chats.find_chat_id(1, "c1") is None
    s3.create_bucket(Bucket=os.environ["MEDIA_BUCKET"])
    status, body = post("url-media", payload)
    assert status == 200 and body["messages"] == 1 and len(objects()) == 1


def test_admin_refuses_an_invalid_fetch_with_422_naming_the_field(media_stack):
    status, body = put_spec({**URL_SPEC, "image": {**URL_SPEC["image"],
                                                   "fetch": {"url": "{{msg.url}}", "max_bytes": 10 ** 9}}})
    assert status == 422
    assert {"field": "image.fetch.max_bytes", "reason": "Input should be less than or equal to 26214400"} in \
        body["errors"]


def test_an_attachment_keeps_its_name_and_is_served_as_a_download(media_stack, httpserver):
    httpserver.expect_request("/doc").respond_with_data(b"%PDF-1.7 invoice", content_type="application/pdf")
    httpserver.expect_request("/page").respond_with_data(b"<script>alert(1)</script>", content_type="text/html")
    put_spec({**URL_SPEC, "attachment": {"conditions": "type=document", "body": "[{{msg.filename}}] {{file_url}}",
                                         "fetch": {"url": "{{msg.url}}", "filename": "{{msg.filename}}"}}})
    document = {"chat": "c1", "type": "document", "filename": "Invoice 7.PDF"}
    body = post("url-media", {**document, "id": "d1", "url": httpserver.url_for("/doc")})[1]
    post("url-media", {**document, "id": "d2", "filename": "page.html", "url": httpserver.url_for("/page")})
    pdf_key, html_key = sorted(objects(), key=lambda key: not key.endswith(".pdf"))
    assert pdf_key.endswith(".pdf") and html_key.endswith(".html")
    assert chats.list_messages(body["chats"][0])[0]["msg"] == f"[Invoice 7.PDF] https://chat.example.com/{pdf_key}"
    s3 = boto3.client("s3")
    assert s3.head_object(Bucket=os.environ["MEDIA_BUCKET"], Key=pdf_key)["ContentDisposition"] == \
        "inline; filename*=UTF-8''Invoice%207.PDF"
    assert s3.head_object(Bucket=os.environ["MEDIA_BUCKET"], Key=html_key)["ContentDisposition"] == \
        "attachment; filename*=UTF-8''page.html"


def test_several_files_in_one_payload_are_each_stored_and_linked_in_order(media_stack, httpserver):
    for n in range(3):
        httpserver.expect_request(f"/p{n}.png").respond_with_data(PNG + bytes([n]), content_type="image/png")
    put_spec(URL_SPEC)
    batch = [image(httpserver.url_for(f"/p{n}.png"), id=f"m{n}", caption=f"photo {n}") for n in range(3)]
    status, body = post("url-media", batch)
    assert status == 200 and body["messages"] == 3
    stored = chats.list_messages(body["chats"][0])
    s3 = boto3.client("s3")
    for n, message in enumerate(stored):
        caption, link = message["msg"].split("\n")
        key = link.removeprefix("[file=https://chat.example.com/").removesuffix("]")
        assert caption == f"photo {n}"
        assert s3.get_object(Bucket=os.environ["MEDIA_BUCKET"], Key=key)["Body"].read() == PNG + bytes([n])


def test_header_secrets_come_from_ssm_at_fetch_time_and_a_missing_one_is_reported(media_stack, httpserver):
    boto3.client("ssm").put_parameter(Name="/chatbridge/cdn/token", Value="s3cret", Type="SecureString")
    httpserver.expect_request("/photo.png", headers={"Authorization": "Bearer s3cret"}).respond_with_data(
        PNG, content_type="image/png")
    fetch = {"url": httpserver.url_for("/photo.png"), "headers": {"Authorization": "Bearer {{ssm:/chatbridge/cdn/token}}"}}
    assert put_spec({**URL_SPEC, "image": {**URL_SPEC["image"], "fetch": fetch}})[0] == 201
    body = post("url-media", image("unused"))[1]
    assert len(objects()) == 1 and "[file=https://chat.example.com/media/" in only_message(body)
    assert "s3cret" not in json.dumps(put_spec({**URL_SPEC, "image": {**URL_SPEC["image"], "fetch": fetch}})[1])

    missing = {**fetch, "headers": {"Authorization": "Bearer {{ssm:/chatbridge/cdn/nope}}"}}
    put_spec({**URL_SPEC, "image": {**URL_SPEC["image"], "fetch": missing}})
    body = post("url-media", image("unused", id="m2"))[1]
    assert chats.list_messages(body["chats"][0])[-1]["msg"] == (
        "Look\n[file not fetched: the SSM parameter(s) /chatbridge/cdn/nope of its headers or URL do not exist or "
        "cannot be read]")


def test_a_url_path_secret_of_a_two_step_fetch_never_reaches_the_stored_message_or_the_logs(media_stack, httpserver,
                                                                                               capsys):
    boto3.client("ssm").put_parameter(Name="/chatbridge/bot/token", Value="42:s3cret-path", Type="SecureString")
    base = httpserver.url_for("/api")
    fetch = {"resolve": {"url": base + "/bot{{ssm:/chatbridge/bot/token}}/getFile?id={{msg.id}}",
                         "location": "result.file_path"},
             "url": base + "/file/bot{{ssm:/chatbridge/bot/token}}/{{resolved}}"}
    httpserver.expect_oneshot_request("/api/bot42:s3cret-path/getFile", query_string="id=m1").respond_with_json(
        {"result": {"file_path": "photos/a b.png"}})
    httpserver.expect_oneshot_request("/api/file/bot42:s3cret-path/photos/a b.png").respond_with_data(
        PNG, content_type="image/png")
    httpserver.expect_oneshot_request("/api/bot42:s3cret-path/getFile", query_string="id=m2").respond_with_data(
        "no route for /api/bot42:s3cret-path/getFile", status=200)
    assert put_spec({**URL_SPEC, "image": {**URL_SPEC["image"], "fetch": fetch}})[0] == 201
    body = post("url-media", image("unused"))[1]
    assert only_message(body).startswith("Look\n[file=https://chat.example.com/media/") and len(objects()) == 1
    body = post("url-media", image("unused", id="m2"))[1]
    failed = chats.list_messages(body["chats"][0])[-1]["msg"]
    assert failed == ("Look\n[file not fetched: resolve step: the response is not JSON (it starts "
                      "'no route for /api/bot***/getFile')]")
    assert "s3cret" not in capsys.readouterr().out  # the ingest's own log lines (the warning names the reason)


def test_a_request_without_time_left_for_its_files_answers_503_before_storing_anything(media_stack, httpserver,
                                                                                       monkeypatch):
    """ingest.budget: a fetch given no time would store the message without its file for good (a retried delivery
    never fetches again), so the request answers 503 first, and the retry with time to spare stores it whole."""
    httpserver.expect_request("/photo.png").respond_with_data(PNG, content_type="image/png")
    put_spec(URL_SPEC)
    monkeypatch.setenv("INGEST_BUDGET_SECONDS", "3")  # less than the reserve kept for the writes
    status, body = post("url-media", image(httpserver.url_for("/photo.png")))
    assert (status, body["status"]) == (503, "unavailable") and "before its files were fetched" in body["reason"]
    from support.aws import chat_table_items

    assert objects() == [] and httpserver.log == [] and [i for i in chat_table_items() if i["type"] == "chat"] == []
    monkeypatch.setenv("INGEST_BUDGET_SECONDS", "25")
    status, body = post("url-media", image(httpserver.url_for("/photo.png")))
    assert status == 200 and body["messages"] == 1 and len(objects()) == 1
