"""REST API rendering: every placeholder escaped for where it sits."""

import http.client
import json

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from werkzeug import Response

from chatbridge.presets import build, get_preset
from chatbridge.reply.events import build_args
from chatbridge.reply.rest_api import RestApi, context_for, msg_clean, msg_url
from chatbridge.reply.webhooks import OutgoingWebhook
from chatbridge.repository import deliveries, outgoing
from chatbridge.repository import reply_storage as storage
from support.pipeline import Pipeline
from support.reply import create_chat, messages_of

CHAT = {"type": "chat", "id": 7, "iwh_id": 1, "chat_variables": {"iwh_id": 1}, "nick": "Aisha",
        "incoming_chat": {"chat_external_id": "447700900000@c.us",
                          "incoming": {"id": 1, "identifier": "openwa", "name": "WA", "scope": "whatsapp"}}}
OPENWA_BODY = '{"chatId": {{args.chat.incoming_chat.chat_external_id}}, "body": {{msg_url}}}'
NASTY = 'He said "hi"\nline two \\ 😀 </script> {{msg}} \u2028'


def context(text="Hello", **kwargs):
    return context_for(build_args(CHAT, {"id": 3, "chat_id": 7, "user_id": 1, "msg": text}), **kwargs)


def api(**fields):
    return RestApi(**{"id": "a", "url": "https://api.example.com/send", **fields})


def test_openwa_body_renders_bare_placeholders_as_json_strings():
    rendered = api(body=OPENWA_BODY).render(context("See [file=https://x.example/a.pdf]"))
    assert json.loads(rendered.body) == {"chatId": "447700900000@c.us", "body": "See https://x.example/a.pdf"}
    assert rendered.headers["Content-Type"] == "application/json" and rendered.method == "POST"


def test_hostile_text_arrives_intact_bare_and_quoted():
    body = '{"bare": {{msg}}, "quoted": "text: {{msg}}", "id": {{args.chat.id}}, "missing": {{args.chat.nope}}}'
    rendered = api(body=body).render(context(NASTY))
    assert json.loads(rendered.body) == {"bare": NASTY, "quoted": "text: " + NASTY, "id": 7, "missing": None}


def test_quoted_placeholder_after_escaped_quote_is_still_inside_the_string():
    rendered = api(body='{"a": "x\\" {{msg}}"}').render(context('"'))
    assert json.loads(rendered.body) == {"a": 'x" "'}


def test_url_placeholders_are_percent_encoded_and_query_is_urlencoded():
    rest = api(url="https://api.example.com/chats/{{args.chat.incoming_chat.chat_external_id}}/send",
               query={"text": "{{msg}}", "to": "{{chat_id_template}}"}, method="get", body="ignored for GET")
    rendered = rest.render(context("a&b=c /?#", chat_id_template="{chat_id}-x"))
    assert rendered.url == ("https://api.example.com/chats/447700900000%40c.us/send"
                            "?text=a%26b%3Dc+%2F%3F%23&to=447700900000%40c.us-x")
    assert rendered.method == "GET" and rendered.body is None


def test_an_absent_value_is_empty_text_wherever_a_string_is_built_and_null_only_as_a_bare_json_value():
    absent = "{{args.chat.nope}}"
    form = api(url=f"https://api.example.com/p/{absent}/send", query={"q": absent}, headers={"X-A": f"[{absent}]"},
               body_format="form", body=f"To={absent}&Body={{{{msg}}}}").render(context("hi"))
    assert form.url == "https://api.example.com/p//send?q=" and form.headers == {"X-A": "[]"}
    assert form.body == "To=&Body=hi"
    text = api(body=f"to {absent}.", body_format="text").render(context())
    assert text.body == "to ."
    rendered = api(body=f'{{"bare": {absent}, "inside": "x{absent}y"}}').render(context())
    assert json.loads(rendered.body) == {"bare": None, "inside": "xy"}
    assert "MISSING" not in form.url + form.body + text.body + rendered.body


def test_a_reply_template_reading_the_raw_payload_is_refused_pointing_at_chat_attributes():
    with pytest.raises(ValidationError, match="chat_attributes"):
        api(body_format="form", body="From={{args.chat.raw.To}}")


def test_header_values_cannot_inject_headers():
    rest = api(headers={"X-Text": "{{msg}}"}, body="plain {{msg}}")
    rendered = rest.render(context("evil\r\nX-Admin: yes"))
    assert rendered.headers == {"X-Text": "evil X-Admin: yes"}
    assert rendered.body == "plain evil\r\nX-Admin: yes"


def test_ssm_secrets_in_headers_are_names_until_resolved():
    rest = api(headers={"api_key": "{{ssm:/chatbridge/openwa/key}}", "Authorization": "Bearer {{ssm:/chatbridge/token}}"})
    assert rest.secret_names() == ["/chatbridge/openwa/key", "/chatbridge/token"]
    rendered = rest.render(context(secrets={"/chatbridge/openwa/key": "k1", "/chatbridge/token": "t2"}))
    assert rendered.headers == {"api_key": "k1", "Authorization": "Bearer t2"}


def test_attributes_chat_id_template_and_clean_text():
    rest = api(body='{"to": {{chat_id_template}}, "token": "{{incoming_webhook.attributes.token}}", '
                    '"text": {{msg_clean}}}')
    rendered = rest.render(context("Look [file=https://f/x.png] here", attributes={"token": "T"},
                                   chat_id_template="{chat_id}@c.us"))
    assert json.loads(rendered.body) == {"to": "447700900000@c.us@c.us", "token": "T", "text": "Look here"}


def test_form_body_encodes_values():
    rest = api(headers={"Content-Type": "application/x-www-form-urlencoded"}, body="To={{chat_id_template}}&Body={{msg}}")
    assert rest.render(context("a&b")).body == "To=447700900000%40c.us&Body=a%26b"


def test_markup_helpers():
    text = "[file=https://a/b.pdf] and [img]https://a/c.png[/img] and [url=https://d]docs[/url]"
    assert msg_url(text) == "https://a/b.pdf and https://a/c.png and https://d"
    assert msg_clean(text) == "and and docs"


@pytest.mark.parametrize(("fields", "reason"), [
    ({"url": "ftp://x/y"}, "http:// or https://"),
    ({"url": "https://{{msg}}/x"}, "may not choose the host"),
    ({"body": '{"a": {{msg}'}, "not a JSON template"),
    ({"body": '{"a": {{nonsense}}}'}, "unknown placeholder"),
    ({"body": '{"a": "{{ssm:/chatbridge/x}}"}'}, "headers and the URL's path only"),
    ({"query": {"key": "{{ssm:/chatbridge/x}}"}}, "headers and the URL's path only"),
    ({"url": "https://api.example.com/send?key={{ssm:/chatbridge/x}}"}, "in the URL's path only"),
    ({"url": "https://{{ssm:/chatbridge/x}}.example.com/send"}, "may not choose the host"),
    ({"url": "https://api.example.com/{{ssm:/other/x}}/send"}, "must name an SSM parameter under /chatbridge/"),
    ({"headers": {"Bad Name": "x"}}, "not a valid header name"),
    ({"headers": {"X": "a\r\nB: c"}}, "line breaks"),
    ({"headers": {"X": "{{ssm:bad name}}"}}, "must name an SSM parameter under /chatbridge/"),
    ({"headers": {"X": "{{ssm:/other/key}}"}}, "must name an SSM parameter under /chatbridge/"),
    ({"success_codes": [99]}, "not HTTP status codes"),
    ({"url": "http://127.0.0.1:99999/send"}, "cannot be called"),
    ({"url": "https://api.example.com:0/send"}, "port 0"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": 31}, "timeout"),
    ({"method": "TRACE"}, "method"),
])
def test_invalid_definitions_are_refused_with_the_field(fields, reason):
    with pytest.raises(ValidationError, match=reason):
        api(**fields)


def test_success_codes_default_to_any_2xx():
    assert api().is_success(204) and not api().is_success(302)
    assert api(success_codes=[200]).is_success(200) and not api(success_codes=[200]).is_success(201)


@settings(deadline=None, max_examples=300)
@given(st.text())
def test_any_message_text_round_trips_through_a_json_body_bare_or_quoted(text):
    rendered = api(body='{"bare": {{msg}}, "quoted": "<{{msg}}>", "clean": {{msg_clean}}}').render(context(text))
    decoded = json.loads(rendered.body)
    assert decoded["bare"] == text and decoded["quoted"] == f"<{text}>"


@settings(deadline=None, max_examples=300)
@given(st.text())
def test_no_message_text_puts_a_line_break_in_a_header(text):
    rendered = api(headers={"X-Text": "a {{msg}} b"}).render(context(text))
    header = rendered.headers["X-Text"]
    assert "\r" not in header and "\n" not in header
    assert not http.client._is_illegal_header_value(header.encode("latin-1"))  # what urllib would refuse


# -- secrets in the URL's path (Telegram's /bot<token>/) ---------------------------------------------------

TOKEN = "123456789:AAE-secret_token"
URL_SECRET = {"url": "https://api.example.com/bot{{ssm:/chatbridge/tg/token}}/sendMessage"}


def test_a_url_secret_is_read_like_a_header_secret_and_sent_only_in_the_url():
    rest = api(**URL_SECRET, headers={"X-Key": "{{ssm:/chatbridge/k}}"})
    assert rest.secret_names() == ["/chatbridge/k", "/chatbridge/tg/token"]
    rendered = rest.render(context(secrets={"/chatbridge/tg/token": TOKEN, "/chatbridge/k": "k"}))
    assert rendered.url == f"https://api.example.com/bot{TOKEN}/sendMessage"  # ':' is legal in a path segment
    assert rendered.shown_url == "https://api.example.com/bot***/sendMessage"
    assert TOKEN not in rendered.model_dump_json(exclude={"url"})  # the scrub list is not serialised


def test_a_url_secret_stays_one_path_segment_whatever_it_holds():
    rendered = api(**URL_SECRET, query={"q": "{{msg}}"}).render(
        context("hi", secrets={"/chatbridge/tg/token": "a/../b?c#d %e"}))
    assert rendered.url == "https://api.example.com/bota%2F..%2Fb%3Fc%23d%20%25e/sendMessage?q=hi"
    assert rendered.shown_url == "https://api.example.com/bot***/sendMessage?q=hi"
    assert rendered.shown(f"refused {rendered.url}") == f"refused {rendered.shown_url}"


def test_a_url_without_secrets_is_shown_as_it_is_sent():
    rendered = api().render(context())
    assert (rendered.shown_url, rendered.url_secrets, rendered.shown("x")) == ("", [], "x")


# -- through the dispatcher: moto SSM, a real local server, the stored delivery --------------------------


def telegram_replies(httpserver, *, token=TOKEN):
    """The telegram preset's REST API and reply rule against the local server, its token in moto's SSM."""
    setup = build(get_preset("telegram"), identifier="tg-bot", values={"secret": "tg-secret",
                  "base_url": httpserver.url_for("/tg")}, webhook_base="https://x.test")
    if token is not None:
        boto3.client("ssm").put_parameter(Name="/chatbridge/tg-bot/token", Value=token, Type="SecureString")
    outgoing.put_rest_api(RestApi.model_validate(setup.rest_api))
    outgoing.put_webhook(OutgoingWebhook.model_validate(setup.outgoing_webhook(1)))
    return setup


def reply(reply_aws, text="On its way"):
    chat_id = create_chat(external_id="3527065", identifier="tg-bot", scope="telegram")
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])  # reads the stream from now on
    storage.add_operator_message(chat_id, text, 3)
    pipeline.pump()
    [delivery] = deliveries.list_for_chat(chat_id)
    return chat_id, delivery


def test_telegram_token_comes_from_ssm_into_the_path_and_the_delivery_shows_it_masked(reply_aws, httpserver):
    telegram_replies(httpserver)
    httpserver.expect_oneshot_request(f"/tg/bot{TOKEN}/sendMessage", method="POST",
                                      json={"chat_id": "3527065", "text": "On its way"}).respond_with_json({"ok": True})
    chat_id, delivery = reply(reply_aws)
    assert (delivery.status, delivery.status_code) == ("sent", 200) and messages_of(chat_id)[-1]["delivery"] == "sent"
    assert delivery.request["url"] == httpserver.url_for("/tg/bot***/sendMessage")
    assert TOKEN not in json.dumps(delivery.model_dump()) and "AAE-secret" not in json.dumps(delivery.model_dump())


def test_a_provider_answer_echoing_the_url_is_stored_with_the_token_masked(reply_aws, httpserver):
    telegram_replies(httpserver)
    httpserver.expect_request(f"/tg/bot{TOKEN}/sendMessage").respond_with_response(Response(
        json.dumps({"ok": False, "description": f"Bad Request: POST /tg/bot{TOKEN}/sendMessage: chat not found"}),
        status=400, content_type="application/json"))
    _, delivery = reply(reply_aws)
    assert delivery.status == "failed" and "/tg/bot***/sendMessage: chat not found" in delivery.response_excerpt
    assert TOKEN not in json.dumps(delivery.model_dump())


def test_a_missing_url_secret_fails_the_delivery_naming_the_parameter_and_sends_nothing(reply_aws, httpserver):
    telegram_replies(httpserver, token=None)
    _, delivery = reply(reply_aws)
    assert delivery.status == "failed" and "/chatbridge/tg-bot/token" in delivery.error
    assert httpserver.log == []
