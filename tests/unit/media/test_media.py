"""Media kinds: the fetch a message stands for, its validation, and fetching it from a real HTTP server.

Storage and the webhook path are in test_media_ingest.py; here no AWS is involved.
"""

import base64
import json
import time

import pytest
from pydantic import ValidationError
from werkzeug import Response

from chatbridge.media import fetch as media_fetch
from chatbridge.media.errors import MediaFetchFailed
from chatbridge.media.files import FetchedFile, content_disposition, object_key
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from support.paths import PAYLOADS

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
OPENWA_IMAGE = json.loads((PAYLOADS / "openwa" / "openwa_v5docs_incoming_image.json").read_text())


def spec(fetch, *, body="{{msg.caption}}", **changes):
    return IncomingWebhookSpec.model_validate({
        "identifier": "media-test", "name": "Media", "chat_id": "from", "message_id": "id",
        "image": {"conditions": "type=image", "body": body, "fetch": fetch}, **changes})


def the_media(spec_, message):
    [chat] = map_payload(spec_, message).chats
    return chat.messages[0]


def field_errors(fetch=None, **changes):
    with pytest.raises(ValidationError) as raised:
        spec(fetch, **changes)
    return str(raised.value)


@pytest.fixture
def allow_loopback(monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")


def fetch_of(fetch, message=None):
    return the_media(spec(fetch), message or {**OPENWA_IMAGE, "url": "unused"}).media.fetch


# -- validation at save ------------------------------------------------------------------------------

@pytest.mark.parametrize("fetch, field, reason", [
    ({"url": "ftp://files.example.com/a"}, "image.fetch.url", "http:// or https://"),
    ({"url": "https://x.example.com/a", "max_bytes": 26 * 1024 * 1024}, "image.fetch.max_bytes", "less than or equal"),
    ({"url": "https://x.example.com/a", "timeout": 60}, "image.fetch.timeout", "less than or equal"),
    ({"url": "https://x.example.com/a", "method": "DELETE"}, "image.fetch.method", "'GET' or 'POST'"),
    ({"url": "https://x.example.com/a", "body": "{}"}, "image.fetch", "GET request has no body"),
    ({"url": "https://x.example.com/a", "location": "response"}, "image.fetch", "only base64 and data_url"),
    ({"url": "https://x.example.com/a", "method": "POST", "body": '{"args": {{msg.id}}'}, "image.fetch",
     "not a JSON template"),
    ({"url": "{{msg.url}}", "headers": {"Authorization": "Basic abc"}}, "image.fetch", "hosts:"),
    ({"url": "https://x.example.com/a", "headers": {"Bad Name": "x"}}, "image.fetch.headers", "not a valid header"),
    ({"url": "https://x.example.com/{{msg.a..b}}"}, "image.fetch.url", "placeholder"),
    ({"url": "https://x.example.com/a", "hosts": ["not a host"]}, "image.fetch.hosts", "not a host name"),
    ({"url": "https://x.example.com/a", "surprise": 1}, "image.fetch.surprise", "Extra inputs"),
    ({"url": "https://x.example.com/a", "headers": {"key": "{{ssm:/other/key}}"}}, "image.fetch.headers",
     "under /chatbridge/"),
    ({"url": "https://x.example.com/a", "headers": {"key": "{{ssm:/chatbridge/k}} {{msg.id}}"}},
     "image.fetch.headers", "no other placeholder"),
    ({"url": "https://x.example.com/a?k={{ssm:/chatbridge/k}}"}, "image.fetch.url", "path only"),
    ({"url": "https://{{ssm:/chatbridge/k}}.example.com/a"}, "image.fetch.url", "path only"),
    ({"url": "https://x.example.com/{{ssm:/other/k}}"}, "image.fetch.url", "under /chatbridge/"),
    ({"url": "{{msg.url}}/{{ssm:/chatbridge/k}}"}, "image.fetch.url", "whose host the spec names"),
    ({"url": "{{resolved}}"}, "image.fetch", "needs a resolve step"),
    ({"url": "https://x.example.com/a", "resolve": {"url": "https://x.example.com/r", "location": "url"}},
     "image.fetch", "must use {{resolved}}"),
    ({"url": "{{resolved}}", "resolve": {"url": "https://x.example.com/r"}}, "image.fetch.resolve.location",
     "Field required"),
    ({"url": "{{resolved}}", "resolve": {"url": "https://x.example.com/{{resolved}}", "location": "url"}},
     "image.fetch.resolve.url", "belongs in fetch.url"),
    ({"url": "{{resolved}}", "resolve": {"url": "https://x.example.com/r", "location": "url", "body": "{}"}},
     "image.fetch.resolve", "GET request has no body"),
    ({"url": "{{resolved}}", "resolve": {"url": "https://x.example.com/r", "location": "a..b"}},
     "image.fetch.resolve.location", "location"),
    ({"url": "{{resolved}}", "headers": {"Authorization": "Bearer x"},
      "resolve": {"url": "https://x.example.com/r", "location": "url"}}, "image.fetch", "hosts:"),
    ({"url": "https://x.example.com/f/{{resolved}}",
      "resolve": {"url": "{{msg.url}}", "location": "url", "headers": {"Authorization": "Bearer x"}}},
     "image.fetch", "hosts: the resolve.url's host"),
    ({"url": "https://x.example.com/{{resolved}}", "resolve": {"url": "ftp://x.example.com/r", "location": "url"}},
     "image.fetch.resolve.url", "http:// or https://"),
])
def test_invalid_fetch_is_refused_naming_the_field(fetch, field, reason):
    message = field_errors(fetch)
    assert field in message and reason in message


def test_fetch_templates_may_only_name_defined_attributes():
    assert "image.fetch: placeholder '{{attributes.key}}': no attribute 'key'" in field_errors(
        {"url": "https://x.example.com/a", "headers": {"api_key": "{{attributes.key}}"}})
    assert spec({"url": "https://x.example.com/a", "headers": {"api_key": "{{attributes.key}}"}},
                attributes={"key": "k"})


def test_headers_need_no_host_list_when_the_spec_itself_names_the_host():
    headers = {"Authorization": "Bearer t"}
    assert spec({"url": "https://{{attributes.host}}/files/{{msg.id}}", "headers": headers}, attributes={"host": "h.io"})
    assert spec({"url": "{{attributes.base}}/files", "headers": headers}, attributes={"base": "https://h.io"})
    assert "hosts:" in field_errors({"url": "https://{{msg.host}}/files", "headers": headers})


def test_file_url_needs_a_fetch_and_may_appear_once():
    with pytest.raises(ValidationError, match="needs a fetch definition"):
        IncomingWebhookSpec.model_validate({"identifier": "media-test", "name": "M", "chat_id": "from",
                                            "image": {"body": "see {{file_url}}"}})
    assert "{{file_url}} may appear once" in field_errors({"url": "https://x.example.com/a"},
                                                          body="{{file_url}} {{file_url}}")


def test_text_kinds_cannot_fetch():
    with pytest.raises(ValidationError, match="text.0.fetch"):
        IncomingWebhookSpec.model_validate({"identifier": "media-test", "name": "M", "chat_id": "from",
                                            "text": [{"body": "x", "fetch": {"url": "https://x.example.com"}}]})


# -- what a message renders to (pure) ----------------------------------------------------------------

def test_decrypt_media_body_makes_each_placeholder_a_json_value_even_with_quotes_in_the_id():
    fetch = fetch_of({"url": "https://wa.example.com/decryptMedia", "method": "POST",
                      "body": '{"args": {"message": {{msg.id}}, "note": "id {{msg.id}}", "n": {{msg.none}}}}',
                      "response": "data_url", "location": "response"},
                     {**OPENWA_IMAGE, "id": 'false_1@c.us_"quoted"'})
    assert json.loads(fetch.body) == {"args": {"message": 'false_1@c.us_"quoted"',
                                               "note": 'id false_1@c.us_"quoted"', "n": None}}
    assert fetch.method == "POST" and fetch.headers["Content-Type"] == "application/json"


def test_a_placeholder_that_starts_the_url_gives_it_whole_later_ones_are_percent_encoded():
    assert fetch_of({"url": "{{msg.url}}"}, {**OPENWA_IMAGE, "url": "https://cdn.example.com/a b?x=1"}).url == \
        "https://cdn.example.com/a b?x=1"
    assert fetch_of({"url": "https://graph.example.com/v19/{{msg.id}}"}, {**OPENWA_IMAGE, "id": "a/b?c"}).url == \
        "https://graph.example.com/v19/a%2Fb%3Fc"


def test_body_without_file_url_gets_the_link_appended_as_file_markup():
    message = the_media(spec({"url": "https://x.example.com/a"}), OPENWA_IMAGE)
    assert message.body == "Receipt from today\n[file={{file_url}}]"
    assert message.media.linked("https://api/media/1/f.jpg") == "Receipt from today\n[file=https://api/media/1/f.jpg]"
    assert message.media.failed("HTTP 404 from x") == "Receipt from today\n[file not fetched: HTTP 404 from x]"


def test_file_url_places_the_plain_link_and_an_empty_caption_is_not_a_skipped_message():
    message = the_media(spec({"url": "https://x.example.com/a"}, body="{{msg.caption}} -> {{file_url}} <-"),
                        {**OPENWA_IMAGE, "caption": None})
    assert message.media.linked("https://l/f") == " -> https://l/f <-"
    assert message.media.failed("too big") == " -> (file not fetched: too big) <-"


def test_simulate_shows_the_fetch_without_header_values():
    document = map_payload(spec({"url": "https://x.example.com/a", "headers": {"api_key": "secret"}}),
                           OPENWA_IMAGE).to_document()
    fetch = document["chats"][0]["messages"][0]["fetch"]
    assert fetch == {"method": "GET", "url": "https://x.example.com/a", "headers": ["api_key"],
                     "body": None, "response": "raw"}
    assert "secret" not in json.dumps(document)


def test_header_secrets_are_filled_only_at_fetch_time_and_cannot_break_the_header():
    fetch = fetch_of({"url": "https://x.example.com/a",
                      "headers": {"Authorization": "Bearer {{ssm:/chatbridge/wa/token}}", "X-Id": "{{msg.id}}"}})
    assert fetch.secret_names == ["/chatbridge/wa/token"] and "Authorization" not in fetch.headers
    assert fetch.describe()["headers"] == ["Authorization", "X-Id"]
    filled = fetch.with_secrets({"/chatbridge/wa/token": "t0k\r\nX-Evil: 1"})
    assert filled.headers["Authorization"] == "Bearer t0k X-Evil: 1" and filled.secret_names == []


def test_fixed_and_message_headers_keep_their_order_and_lose_line_breaks_and_a_fixed_url_is_the_same_each_time():
    # what does not depend on the message is rendered once per spec: it must come out as rendering it each time would
    fetch = {"url": "https://x.example.com/files/{{attributes.folder}}", "headers": {
        "X-Fixed": " one ", "X-Id": "{{msg.id}}", "X-Team": "{{attributes.team}}"}}
    made = spec(fetch, attributes={"folder": "a b", "team": "blue\r\nX-Evil: 1 "})
    first, second = (the_media(made, {**OPENWA_IMAGE, "id": message_id}).media.fetch for message_id in ("m1", "m2"))
    assert list(first.headers.items()) == [("X-Fixed", "one"), ("X-Id", "m1"), ("X-Team", "blue X-Evil: 1")]
    assert second.headers["X-Id"] == "m2" and first.url == second.url == "https://x.example.com/files/a b"


def test_object_key_is_the_same_for_a_retry_and_differs_by_message_and_content():
    first = FetchedFile(PNG, "image/png", "")
    key = object_key(3, "msg-1", first)
    assert key == object_key(3, "msg-1", FetchedFile(PNG, "image/png", ""))
    assert key.startswith("media/3/") and key.endswith(".png")
    assert object_key(3, "msg-2", first) != key
    assert object_key(3, "msg-1", FetchedFile(PNG + b"x", "image/png", "")) != key
    assert object_key(3, "m", FetchedFile(b"%PDF", "application/pdf", "Invoice.PDF")).endswith(".pdf")


def test_only_media_types_a_browser_cannot_script_open_inline():
    assert content_disposition(FetchedFile(PNG, "image/png", "")) == "inline"
    assert content_disposition(FetchedFile(b"<svg/>", "image/svg+xml", "")) == "attachment"
    assert content_disposition(FetchedFile(b"<p>", "text/html", 'a"b.html')) == \
        "attachment; filename*=UTF-8''a_b.html"


# -- fetching from a real server ---------------------------------------------------------------------

def test_raw_get_returns_the_bytes_and_the_response_type(httpserver, allow_loopback):
    httpserver.expect_request("/media/1.png", method="GET").respond_with_data(PNG, content_type="image/png")
    file = media_fetch.fetch(fetch_of({"url": "{{msg.url}}"}, {**OPENWA_IMAGE, "url": httpserver.url_for("/media/1.png")}))
    assert (file.content, file.content_type) == (PNG, "image/png")


def test_decrypt_media_post_returning_a_data_url_is_decoded(httpserver, allow_loopback):
    data_url = "data:image/jpeg;base64," + base64.b64encode(PNG).decode()
    httpserver.expect_request("/decryptMedia", method="POST", headers={"key": "k1"},
                              json={"args": {"message": OPENWA_IMAGE["id"]}}).respond_with_json(
        {"success": True, "response": data_url})
    fetch = fetch_of({"url": httpserver.url_for("/decryptMedia"), "method": "POST", "headers": {"key": "k1"},
                      "body": '{"args": {"message": {{msg.id}}}}', "response": "data_url", "location": "response"})
    file = media_fetch.fetch(fetch)
    assert (file.content, file.content_type) == (PNG, "image/jpeg")


def test_the_spec_content_type_wins_over_a_generic_response_type(httpserver, allow_loopback):
    httpserver.expect_request("/f").respond_with_data(PNG, content_type="application/octet-stream")
    file = media_fetch.fetch(fetch_of({"url": httpserver.url_for("/f"), "content_type": "{{msg.mimetype}}"}))
    assert file.content_type == "image/jpeg"


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
def test_a_file_past_max_bytes_is_refused(httpserver, allow_loopback, stream):
    big = b"x" * 5000
    body = (big[i:i + 500] for i in range(0, 5000, 500)) if stream else big
    httpserver.expect_request("/big").respond_with_response(Response(body, content_type="image/png"))
    with pytest.raises(MediaFetchFailed, match="larger than 1000 bytes"):
        media_fetch.fetch(fetch_of({"url": httpserver.url_for("/big"), "max_bytes": 1000}))


def test_a_base64_file_past_max_bytes_is_refused_after_decoding(httpserver, allow_loopback):
    httpserver.expect_request("/b64").respond_with_json({"data": base64.b64encode(b"y" * 1500).decode()})
    with pytest.raises(MediaFetchFailed, match="larger than max_bytes"):
        media_fetch.fetch(fetch_of({"url": httpserver.url_for("/b64"), "response": "base64", "location": "data",
                                    "max_bytes": 1000}))


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/file.png",
                                 "http://[::1]:1/x", "file:///etc/passwd"])
def test_internal_addresses_are_refused_without_the_allow_list(url, monkeypatch):
    monkeypatch.delenv("CHATBRIDGE_OUTBOUND_ALLOW", raising=False)
    with pytest.raises(MediaFetchFailed, match="refused"):
        media_fetch.fetch(fetch_of({"url": "{{msg.url}}"}, {**OPENWA_IMAGE, "url": url}))


def test_loopback_is_refused_unless_allowed(httpserver, monkeypatch):
    httpserver.expect_request("/f").respond_with_data(PNG)
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "")
    with pytest.raises(MediaFetchFailed, match="internal address"):
        media_fetch.fetch(fetch_of({"url": httpserver.url_for("/f")}))
    assert httpserver.log == []


def test_a_redirect_to_an_internal_address_is_refused(httpserver, monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1/32")
    httpserver.expect_request("/r").respond_with_data("", status=302,
                                                      headers={"Location": "http://169.254.169.254/latest/"})
    with pytest.raises(MediaFetchFailed, match="refused: 169.254.169.254"):
        media_fetch.fetch(fetch_of({"url": httpserver.url_for("/r")}))


def test_redirects_are_followed_and_headers_do_not_follow_to_another_host(httpserver, monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1,localhost")
    other_host = httpserver.url_for("/cdn").replace("localhost", "127.0.0.1")
    httpserver.expect_request("/api").respond_with_data("", status=307, headers={"Location": other_host})
    httpserver.expect_request("/cdn").respond_with_data(PNG, content_type="image/png")
    file = media_fetch.fetch(fetch_of({"url": httpserver.url_for("/api"), "headers": {"Authorization": "Bearer t"}}))
    assert file.content == PNG
    first, second = (request for request, _ in httpserver.log)
    assert first.headers.get("Authorization") == "Bearer t" and second.headers.get("Authorization") is None


def test_the_host_must_be_listed_when_hosts_are_given(httpserver, allow_loopback):
    fetch = fetch_of({"url": "{{msg.url}}", "hosts": ["*.twilio.com"], "headers": {"Authorization": "Basic x"}},
                     {**OPENWA_IMAGE, "url": httpserver.url_for("/f")})
    with pytest.raises(MediaFetchFailed, match="not in fetch.hosts"):
        media_fetch.fetch(fetch)
    assert httpserver.log == []


def test_http_errors_and_unreadable_responses_say_what_happened(httpserver, allow_loopback):
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    httpserver.expect_request("/text").respond_with_json({"response": "not a data url"})
    with pytest.raises(MediaFetchFailed, match="HTTP 404 from localhost"):
        media_fetch.fetch(fetch_of({"url": httpserver.url_for("/gone")}))
    with pytest.raises(MediaFetchFailed, match="expected a data URL"):
        media_fetch.fetch(fetch_of({"url": httpserver.url_for("/text"), "response": "data_url",
                                    "location": "response"}))


def test_a_server_slower_than_the_timeout_fails_the_fetch(httpserver, allow_loopback):
    def slow(request):
        time.sleep(1.5)
        return Response(PNG)

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(MediaFetchFailed, match="timed out after 0.5 s"):
        media_fetch.fetch(fetch_of({"url": httpserver.url_for("/slow"), "timeout": 0.5}))
    _let_the_server_finish(httpserver)


def test_the_timeout_covers_the_whole_body_not_each_read(httpserver, allow_loopback):
    def trickle():
        for _ in range(20):
            time.sleep(0.1)
            yield b"x" * 10

    httpserver.expect_request("/trickle").respond_with_response(Response(trickle(), content_type="image/png"))
    with pytest.raises(MediaFetchFailed, match="timed out after 0.6 s"):
        media_fetch.fetch(fetch_of({"url": httpserver.url_for("/trickle"), "timeout": 0.6}))
    _let_the_server_finish(httpserver)


def _let_the_server_finish(httpserver):
    """The abandoned request is still being served: wait for it, so it cannot land in the next test's log."""
    deadline = time.monotonic() + 10
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_used_up_request_budget_fails_without_calling(httpserver, allow_loopback):
    with pytest.raises(MediaFetchFailed, match="no time was left"):
        media_fetch.fetch(fetch_of({"url": httpserver.url_for("/f")}), budget=0.1)
    assert httpserver.log == []


# -- resolve: a first request whose JSON answer gives the URL ------------------------------------------------

def test_a_resolve_answer_can_give_the_whole_url_and_the_headers_go_to_both_requests(httpserver, allow_loopback):
    httpserver.expect_oneshot_request("/media/m1", headers={"Authorization": "Bearer t"}).respond_with_json(
        {"url": httpserver.url_for("/cdn/f").replace("localhost", "127.0.0.1")})
    httpserver.expect_oneshot_request("/cdn/f", headers={"Authorization": "Bearer t"}).respond_with_data(
        PNG, content_type="image/png")
    base = httpserver.url_for("/media").replace("localhost", "127.0.0.1")
    fetch = fetch_of({"url": "{{resolved}}", "headers": {"Authorization": "Bearer t"}, "hosts": ["127.0.0.1"],
                      "resolve": {"url": base + "/{{msg.id}}", "headers": {"Authorization": "Bearer t"},
                                  "location": "url"}}, {**OPENWA_IMAGE, "id": "m1"})
    assert fetch.describe()["resolve"] == {"method": "GET", "url": base + "/m1", "headers": ["Authorization"],
                                           "body": None, "location": "url"}
    assert media_fetch.fetch(fetch).content == PNG


def test_a_resolve_answer_that_is_not_a_url_is_refused_when_it_must_be_the_whole_url(httpserver, allow_loopback):
    httpserver.expect_oneshot_request("/media/m1").respond_with_json({"url": "file:///etc/passwd"})
    base = httpserver.url_for("/media").replace("localhost", "127.0.0.1")
    fetch = fetch_of({"url": "{{resolved}}", "resolve": {"url": base + "/{{msg.id}}", "location": "url"}},
                     {**OPENWA_IMAGE, "id": "m1"})
    with pytest.raises(MediaFetchFailed, match="answered 'file:///etc/passwd', not an http"):
        media_fetch.fetch(fetch)


def test_a_resolve_response_past_one_mib_is_refused(httpserver, allow_loopback):
    httpserver.expect_oneshot_request("/r").respond_with_data(b"{" + b" " * (media_fetch.RESOLVE_MAX_BYTES + 1) + b"}")
    fetch = fetch_of({"url": "https://x.example.com/{{resolved}}",
                      "resolve": {"url": httpserver.url_for("/r").replace("localhost", "127.0.0.1"),
                                  "location": "url"}})
    with pytest.raises(MediaFetchFailed, match=f"larger than {media_fetch.RESOLVE_MAX_BYTES} bytes"):
        media_fetch.fetch(fetch)
    assert len(httpserver.log) == 1


def test_url_path_secrets_are_shown_as_stars_and_filled_only_when_sent():
    fetch = fetch_of({"url": "https://x.example.com/bot{{ssm:/chatbridge/tg/token}}/{{resolved}}",
                      "resolve": {"url": "https://x.example.com/bot{{ssm:/chatbridge/tg/token}}/getFile?id={{msg.id}}",
                                  "location": "result.file_path"}}, {**OPENWA_IMAGE, "id": "a/b"})
    assert fetch.secret_names == ["/chatbridge/tg/token"]
    assert fetch.url == "https://x.example.com/bot***/{{resolved}}"
    assert fetch.describe()["resolve"]["url"] == "https://x.example.com/bot***/getFile?id=a%2Fb"
    filled = fetch.with_secrets({"/chatbridge/tg/token": "1:A/B"})
    assert filled.request.send_url(filled.secrets, "docs/x 1.pdf") == "https://x.example.com/bot1:A%2FB/docs/x%201.pdf"
    assert filled.mask("GET /bot1:A%2FB/ and 1:A/B") == "GET /bot***/ and ***"
    assert "1:A" not in repr(filled)
