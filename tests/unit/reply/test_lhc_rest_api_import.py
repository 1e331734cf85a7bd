"""A Live Helper Chat Rest API export becomes REST APIs (one per method) and the outgoing webhook for the method
that sends replies; what cannot come along is a warning naming the key (issue 15, point 6). The method's
file variant (``suburl_file`` + ``body_raw_file``) becomes file REST APIs whose webhooks take exactly the replies
LHC sends through it."""

import json
import mimetypes

import pytest

from chatbridge.errors import LhcImportError
from chatbridge.media.uploads import ALLOWED_TYPES
from chatbridge.reply.events import build_args
from chatbridge.reply.lhc_import import convert_rest_api, is_rest_api_export
from chatbridge.reply.rest_api import RestApi, context_for
from chatbridge.reply.webhooks import OutgoingWebhook
from support.paths import FIXTURES

GUIDE_REST = FIXTURES / "lhc_openwa_guide_restapi.json"


def test_the_open_wa_rest_api_export_becomes_a_rest_api_and_its_reply_webhook():
    result = convert_rest_api(json.loads(GUIDE_REST.read_text()), identifier="open-wa-guide")
    text_api, file_api = result.rest_apis
    assert text_api == {
        "id": "open-wa-sendmessage", "name": "open-wa SendMessage", "method": "POST",
        "url": "{{incoming_webhook.attributes.host}}/sendText", "headers": {"Content-Type": "application/json"},
        "query": {}, "body_format": "json",
        "body": '{"args": {\n    "to": {{args.chat.incoming_chat.chat_external_id}},\n    "content": {{msg_url}}\n}}'}
    assert file_api == {**text_api, "id": "open-wa-sendmessage-file", "name": "open-wa SendMessage file",
                        "url": "{{incoming_webhook.attributes.host}}/sendFile",
                        "body": '{"args": {\n    "to": {{args.chat.incoming_chat.chat_external_id}},\n'
                                '    "filename": {{file_name}},\n    "file": {{file_url}}\n}}'}
    chats = "{args.chat.incoming_chat.incoming.identifier} = open-wa-guide"
    assert result.webhooks == [
        {"id": "open-wa-sendmessage-replies", "event": "chat.web_add_msg_admin",
         "conditions": [chats, "{args.file.url} empty"], "rest_api_id": "open-wa-sendmessage"},
        # body_raw_file has no {{msg_clean}}: LHC sends a file that has text through the text request instead
        {"id": "open-wa-sendmessage-files", "event": "chat.web_add_msg_admin",
         "conditions": [chats, "{args.file.url} notempty", "{args.file.caption} empty"],
         "rest_api_id": "open-wa-sendmessage-file"},
        {"id": "open-wa-sendmessage-replies-2", "event": "chat.web_add_msg_admin",
         "conditions": [chats, "{args.file.url} notempty", "{args.file.caption} notempty"],
         "rest_api_id": "open-wa-sendmessage"}]
    assert result.warnings == []
    request = RestApi.model_validate(text_api).render(context_for(
        {"chat": {"incoming_chat": {"chat_external_id": "4477@c.us"}}, "msg": {"msg": "Hi [img]https://x/a.png[/img]"}},
        attributes={"host": "https://wa.example.com"}))
    assert request.url == "https://wa.example.com/sendText"
    assert json.loads(request.body) == {"args": {"to": "4477@c.us", "content": "Hi https://x/a.png"}}


def _file_args(name, media_type, text=""):
    """``args`` of an operator message carrying one file, as the evaluator builds them."""
    url = "https://api.example/media/1/" + "a" * 64 + "." + name.rsplit(".", 1)[-1]
    kind = "image" if media_type.startswith("image/") else "attachment"
    return build_args({"id": 5, "iwh_id": 1, "incoming_chat": {"chat_external_id": "4477@c.us",
                                                                "incoming": {"identifier": "wa"}}},
                      {"id": 2, "user_id": 1, "kind": kind, "msg": "\n".join(p for p in (text, f"[file={url}]") if p),
                       "file": {"url": url, "name": name, "type": media_type, "kind": kind, "size": 9}})


def test_the_file_variant_sends_an_operator_file_as_lhcs_file_request_does():
    result = convert_rest_api(json.loads(GUIDE_REST.read_text()), identifier="wa")
    apis = {api["id"]: RestApi.model_validate(api) for api in result.rest_apis}
    webhooks = [OutgoingWebhook.model_validate(webhook) for webhook in result.webhooks]
    args = _file_args("receipt.pdf", "application/pdf")
    [fired] = [w for w in webhooks if w.matches("chat.web_add_msg_admin", args)]
    request = apis[fired.rest_api_id].render(context_for(args, attributes={"host": "https://wa.example.com"}))
    assert request.url == "https://wa.example.com/sendFile"
    assert json.loads(request.body) == {"args": {"to": "4477@c.us", "filename": "receipt.pdf",
                                                 "file": args["file"]["url"]}}
    args = _file_args("receipt.pdf", "application/pdf", "Your receipt")
    [fired] = [w for w in webhooks if w.matches("chat.web_add_msg_admin", args)]
    request = apis[fired.rest_api_id].render(context_for(args, attributes={"host": "https://wa.example.com"}))
    assert json.loads(request.body)["args"]["content"] == f"Your receipt\n{args['file']['url']}"


BLOCKS_EXPORT = {"name": "Gateway", "configuration": {"host": "https://gw.example", "parameters": [{
    "name": "Send", "method": "POST", "suburl": "/text", "body_request_type": "raw",
    "body_request_type_content": "json", "body_raw": '{"to": {{args.chat.incoming_chat.chat_external_id}}, '
                                                     '"text": {{msg_url}}}',
    "suburl_file": "/{image_api}image{/image_api}{file_api}document{/file_api}{api_by_ext__ogg_mp3}voice{/api_by_ext}",
    "body_raw_file": '{image_api}{"to": {{args.chat.incoming_chat.chat_external_id}}, "image": {{file_url}}, '
                     '"caption": {{msg_clean}}}{/image_api}'
                     '{file_api}{"to": {{args.chat.incoming_chat.chat_external_id}}, "document": {{file_url}}, '
                     '"name": {{file_name}}, "mime": raw_{{file_mime}}, "caption": {{msg_clean}}}{/file_api}'
                     '{api_by_ext__ogg_mp3}{"to": {{args.chat.incoming_chat.chat_external_id}}, "voice": {{file_url}}, '
                     '"caption": {{msg_clean}}}{/api_by_ext}',
    "suburl_file_skip_ext": "mp3, WEBP"}]}}
LHC_CHOICE = {  # what LHC's makeRequest sends for (file name, type, with text): path and the file key it posts
    ("a.png", "image/png", False): ("/image", "image"), ("a.png", "image/png", True): ("/image", "image"),
    ("a.pdf", "application/pdf", True): ("/document", "document"),
    ("v.mp4", "video/mp4", False): ("/text", "text"),  # no {video_api} block: its body is empty, LHC sends text
    ("n.ogg", "audio/ogg", True): ("/voice", "voice"), ("n.mp3", "audio/mpeg", False): ("/voice", "voice"),
    ("n.mp3", "audio/mpeg", True): ("/text", "text"),  # suburl_file_skip_ext: no caption beside an mp3
    ("w.webp", "image/webp", True): ("/text", "text"),  # not LHC's image type; skipped extension
    ("w.webp", "image/webp", False): ("/document", "document"),
}


def test_lhcs_type_and_extension_blocks_each_become_a_file_rest_api_picked_by_rule_clauses():
    result = convert_rest_api(BLOCKS_EXPORT, scope="gw")
    assert result.warnings == []
    apis = {api["id"]: RestApi.model_validate(api) for api in result.rest_apis}
    assert [api.url for api in apis.values()] == ["https://gw.example/text", "https://gw.example/voice",
                                                  "https://gw.example/image", "https://gw.example/document"]
    assert "{{file_type}}" in apis["gateway-send-file-file"].body  # LHC's {{file_mime}}
    webhooks = [OutgoingWebhook.model_validate(webhook) for webhook in result.webhooks]
    for (name, media_type, with_text), (path, key) in LHC_CHOICE.items():
        args = _file_args(name, media_type, "See this" if with_text else "")
        args["chat"]["incoming_chat"]["incoming"]["scope"] = "gw"
        [fired] = [w for w in webhooks if w.matches("chat.web_add_msg_admin", args)]
        request = apis[fired.rest_api_id].render(context_for(args))
        body = json.loads(request.body)
        assert (request.url.removeprefix("https://gw.example"), key in body) == (path, True), (name, with_text)
        if key != "text":
            assert body[key] == args["file"]["url"] and body["caption"] == ("See this" if with_text else "")


def test_every_reply_takes_exactly_one_way_whatever_file_it_carries():
    webhooks = [OutgoingWebhook.model_validate(w) for w in convert_rest_api(BLOCKS_EXPORT, scope="gw").webhooks]
    for media_type in ALLOWED_TYPES:
        for extension in {mimetypes.guess_extension(media_type) or ".bin", ".mp3", ".ogg", ".PNG"}:
            for text in ("", "Hello"):
                args = _file_args(f"f{extension}", media_type, text)
                args["chat"]["incoming_chat"]["incoming"]["scope"] = "gw"
                fired = [w.id for w in webhooks if w.matches("chat.web_add_msg_admin", args)]
                assert len(fired) == 1, (media_type, extension, text, fired)
    text_only = build_args({"id": 5, "incoming_chat": {"incoming": {"scope": "gw"}}}, {"id": 3, "msg": "Hi"})
    assert [w.id for w in webhooks if w.matches("chat.web_add_msg_admin", text_only)] == ["gateway-send-replies"]


def _with(**changes):
    export = json.loads(GUIDE_REST.read_text())
    configuration = json.loads(export["configuration"])
    configuration["parameters"][0].update(changes)
    return {**export, "configuration": json.dumps(configuration)}


@pytest.mark.parametrize(("changes", "warned"), [
    ({"body_raw_file": '{"args": {"to": {{args.chat.incoming_chat.chat_external_id}}, "file": {{file_body}}}}'},
     "{{file_body}} (the file's bytes as a data URL) is not carried"),
    ({"suburl_file_convert": "image_api, video_api,file_api"},
     "suburl_file_convert image_api,video_api,file_api: LHC uploads"),
    ({"body_request_type": "form-data", "postparams": [{"key": "to", "value": "x"}]},
     "body_raw_file with body_request_type form-data"),
    ({"suburl_file": "{{args.chat.phone}}/sendFile"}, "file variant not imported (url:"),
])
def test_a_file_variant_chatbridge_cannot_send_leaves_files_to_the_text_reply_with_a_warning(changes, warned):
    result = convert_rest_api(_with(**changes), identifier="wa")
    assert [api["id"] for api in result.rest_apis] == ["open-wa-sendmessage"]
    assert [(w["id"], w["conditions"]) for w in result.webhooks] == [
        ("open-wa-sendmessage-replies", ["{args.chat.incoming_chat.incoming.identifier} = wa"])]
    assert any(warned in w and "sent as their link in the text reply" in w for w in result.warnings), result.warnings


def test_a_file_variant_lhc_would_not_use_is_not_made():
    for changes in ({"suburl_file": ""}, {"body_raw_file": "  "}):
        result = convert_rest_api(_with(**changes), identifier="wa")
        assert len(result.rest_apis) == 1 and len(result.webhooks) == 1 and result.warnings == []


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
