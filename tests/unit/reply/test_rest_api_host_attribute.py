"""A REST API URL whose host is a spec attribute (LHC's ``{{...attributes.host}}/sendText``), still guarded."""

import pytest
from pydantic import ValidationError

from chatbridge.reply.dispatch import send
from chatbridge.reply.rest_api import RestApi, context_for

ARGS = {"chat": {"id": 1, "incoming_chat": {"chat_external_id": "4477@c.us"}}, "msg": {"id": 2, "msg": "Hi"}}
SEND_TEXT = RestApi(id="send", url="{{incoming_webhook.attributes.host}}/sendText?to={{args.chat.id}}",
                    body='{"to": {{args.chat.incoming_chat.chat_external_id}}, "content": {{msg}}}')


def rendered(api=SEND_TEXT, **attributes):
    return api.render(context_for(ARGS, attributes=attributes))


def test_the_spec_attribute_gives_scheme_and_host_and_the_rest_is_encoded_as_before():
    request = rendered(host="https://wa.example.com/")
    assert request.url == "https://wa.example.com/sendText?to=1" and request.refusal is None
    assert rendered(host="http://server:8002/api").url == "http://server:8002/api/sendText?to=1"


@pytest.mark.parametrize("host, shown", [
    (None, "not set"), ("", "not set"), ("server:8002", "'server:8002'"), ("ftp://x", "'ftp://x'"),
    ("https://user@evil.example", "'https://user@evil.example'"), ("https://a.example/x?y=1", "'https://a.example/x?y=1'"),
])
def test_a_host_attribute_that_is_not_an_http_url_refuses_the_delivery_without_a_call(host, shown):
    attributes = {} if host is None else {"host": host}
    request = rendered(**attributes)
    assert request.refusal and shown in request.refusal and "attribute 'host'" in request.refusal
    result = send(request, allow="")
    assert result.refused and result.error == request.refusal


def test_the_url_guard_still_checks_the_host_the_attribute_gives():
    result = send(rendered(host="http://169.254.169.254"), allow="")
    assert result.refused and "internal address" in result.error


@pytest.mark.parametrize("url, reason", [
    ("https://{{incoming_webhook.attributes.host}}/x", "placeholders may not choose the host"),
    ("{{args.chat.incoming_chat.attributes.host}}/x", "placeholders may not choose the host"),
    ("{{incoming_webhook.attributes.host}}sendText", "goes on with '/' or '?'"),
    ("{{msg}}/sendText", "placeholders may not choose the host"),
])
def test_only_a_leading_spec_attribute_may_choose_the_host(url, reason):
    with pytest.raises(ValidationError, match=reason):
        RestApi(id="x", url=url)
