"""A Live Helper Chat Rest API export becomes REST APIs (one per method) and the outgoing webhook for the method
that sends replies; what cannot come along is a warning naming the key (issue 15, point 6)."""

import json

import pytest

from chatbridge.errors import LhcImportError
from chatbridge.reply.lhc_import import convert_rest_api, is_rest_api_export
from chatbridge.reply.rest_api import RestApi, context_for
from support.paths import FIXTURES

GUIDE_REST = FIXTURES / "lhc_openwa_guide_restapi.json"


def test_the_open_wa_rest_api_export_becomes_a_rest_api_and_its_reply_webhook():
    result = convert_rest_api(json.loads(GUIDE_REST.read_text()), identifier="open-wa-guide")
    assert result.rest_apis == [{
        "id": "open-wa-sendmessage", "name": "open-wa SendMessage", "method": "POST",
        "url": "{{incoming_webhook.attributes.host}}/sendText", "headers": {"Content-Type": "application/json"},
        "query": {}, "body_format": "json",
        "body": '{"args": {\n    "to": {{args.chat.incoming_chat.chat_external_id}},\n    "content": {{msg_url}}\n}}'}]
    assert result.webhooks == [{"id": "open-wa-sendmessage-replies", "event": "chat.web_add_msg_admin",
                                "conditions": ["{args.chat.incoming_chat.incoming.identifier} = open-wa-guide"],
                                "rest_api_id": "open-wa-sendmessage"}]
    assert sorted(w.split(": ")[1] for w in result.warnings) == ["body_raw_file", "suburl_file"]
    request = RestApi.model_validate(result.rest_apis[0]).render(context_for(
        {"chat": {"incoming_chat": {"chat_external_id": "4477@c.us"}}, "msg": {"msg": "Hi [img]https://x/a.png[/img]"}},
        attributes={"host": "https://wa.example.com"}))
    assert request.url == "https://wa.example.com/sendText"
    assert json.loads(request.body) == {"args": {"to": "4477@c.us", "content": "Hi https://x/a.png"}}


def test_authorization_query_form_bodies_and_method_conditions_carry_over():
    export = {"name": "SMS gateway", "description": "", "configuration": json.dumps({
        "host": "https://sms.example.com/", "parameters": [
            {"name": "Send", "method": "POST", "suburl": "api/send/{{args.chat.id}}", "authorization": "bearer",
             "auth_bearer": "tok", "query": [{"key": "v", "value": "2"}],
             "header": [{"key": "X-App", "value": "lhc"}], "body_request_type": "form-data-urlencoded",
             "postparams": [{"key": "to", "value": "{{args.chat.phone}}"}, {"key": "text", "value": "Re: {{msg}}"}],
             "conditions": [{"key": "{{args.chat.phone}}", "success_condition": "neq", "value": ""},
                            {"key": "{{lhc.var.x}}", "success_condition": "eq", "value": "1"}],
             "output": [{"success_name": "sent"}], "max_execution_time": "60"},
            {"name": "Check", "method": "GET", "suburl": "api/check", "authorization": "apikey",
             "api_key_location": "queryparams", "auth_api_key_name": "key", "auth_api_key_key": "k1"}]})}
    assert is_rest_api_export(export)
    result = convert_rest_api(export, scope="sms", method="Send")
    send, check = result.rest_apis
    assert send == {"id": "sms-gateway-send", "name": "SMS gateway Send", "method": "POST",
                    "url": "https://sms.example.com/api/send/{{args.chat.id}}",
                    "headers": {"X-App": "lhc", "Authorization": "Bearer tok",
                                "Content-Type": "application/x-www-form-urlencoded"},
                    "query": {"v": "2"}, "body": "to={{args.chat.phone}}&text=Re%3A%20{{msg}}", "body_format": "form",
                    "timeout": 30}
    assert check["query"] == {"key": "k1"} and "body" not in check
    assert result.webhooks[0]["conditions"] == ["{args.chat.incoming_chat.incoming.scope} = sms",
                                                "{args.chat.phone} !="]
    warned = "\n".join(result.warnings)
    for fragment in ("authorization bearer became an Authorization header", "{{ssm:/chatbridge/<name>}}",
                     "max_execution_time 60 s is cut to 30 s", "output: LHC parses the answer into bot triggers",
                     "condition {'key': '{{lhc.var.x}}'", "apikey became a query parameter"):
        assert fragment in warned
    with pytest.raises(LhcImportError, match="--method 'Nope': no such method"):
        convert_rest_api(export, scope="sms", method="Nope")
    assert "name it with --method" in convert_rest_api(export, scope="sms").warnings[-1]


REST_FORM_KEYS = (  # every method setting LHC's Rest API form (form_rest_api.tpl.php) saves, and its lists
    "api_key_location", "auth_api_key_key", "auth_api_key_name", "auth_bearer", "auth_password", "auth_username",
    "authorization", "body_raw", "body_raw_file", "body_request_type", "body_request_type_content", "check_not_empty",
    "check_word", "http_protocol", "max_execution_time", "method", "name", "polling_n_delay", "polling_n_times",
    "polling_no_delay_first", "position", "remote_message_id", "split_into_parts", "streaming_event_type_field",
    "streaming_request", "streaming_sse_start", "suburl", "suburl_file", "suburl_file_convert",
    "suburl_file_skip_ext", "switch_form_data", "query", "header", "conditions", "postparams", "userparams", "output")


@pytest.mark.parametrize("key", REST_FORM_KEYS)
def test_every_method_setting_lhcs_rest_api_form_saves_is_read_or_warned_with_a_reason(key):
    export = json.loads(GUIDE_REST.read_text())
    configuration = json.loads(export["configuration"])
    value = [{"key": "k", "value": "v"}] if key in ("query", "header", "postparams", "userparams", "output") else "1"
    configuration["parameters"][0][key] = {"method": "POST", "name": "SendMessage", "suburl": "https://x.example/x",
                                           "conditions": []}.get(key, value)
    result = convert_rest_api({**export, "configuration": json.dumps(configuration)}, scope="whatsapp")
    assert not [w for w in result.warnings if "unknown to chatbridge" in w], result.warnings
