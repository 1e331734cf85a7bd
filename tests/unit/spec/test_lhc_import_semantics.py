"""``import-lhc`` carries Live Helper Chat's meaning, not only its keys: path helpers, split indexes as PHP reads
them, placeholders, condition semantics, media settings, Rest API exports, and every main setting as LHC's
current form saves it (and as older versions did)."""

import argparse
import json

import pytest

from chatbridge.cli import import_lhc
from chatbridge.errors import LhcImportError
from chatbridge.spec.lhc_import import convert
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from support.paths import FIXTURES

GUIDE = FIXTURES / "lhc_openwa_guide_incoming.json"
GUIDE_REST = FIXTURES / "lhc_openwa_guide_restapi.json"


def imported(configuration, **row):
    return convert({"identifier": "lhc-test", "name": "LHC", **row,
                    "configuration": {"chat_id": "from", "msg_body": "{{msg.text}}", **configuration}})


def mapped(result, message):
    spec = IncomingWebhookSpec.model_validate(result.spec)
    return map_payload(spec, message)


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="chatbridge")
    import_lhc.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


# 1. LHC's path helpers --------------------------------------------------------------------------------

def test_lhc_path_helpers_import_and_find_what_lhc_finds():
    result = imported({"chat_id": "contacts.[type=phone].value", "nick": "names___array_pop",
                       "msg_body": "{{msg.profile___json_text.name}}"})
    assert result.warnings == []
    message = {"contacts": [{"type": "email", "value": "a@x"}, {"type": "phone", "value": "+4477"}],
               "names": ["first", "last"], "profile": '{"name": "Aisha"}'}
    [chat] = mapped(result, message).chats
    assert (chat.chat_external_id, chat.nick, chat.messages[0].body) == ("+4477", "last", "Aisha")


def test_a_path_helper_chatbridge_lacks_is_refused_naming_the_key():
    result = imported({"nick": "tags^implode==, "})
    assert "nick" not in result.spec
    assert result.warnings[0].startswith("nick: 'tags^implode==, ' cannot be converted") and "'^'" in result.warnings[0]
    with pytest.raises(LhcImportError, match=r"chat_id cannot be converted: .*character 1: 'contacts\[type=phone\]' is not a list filter"):
        imported({"chat_id": "contacts[type=phone].value"})


# 2. split indexes as PHP reads them ---------------------------------------------------------------------

@pytest.mark.parametrize("lhc, chatbridge, warned", [
    ("user.phone||-||-1", "user.phone", "split index -1 keeps the whole value in LHC"),
    ("user.phone||-||x", "user.phone||-||0", "LHC reads the split index 'x' as 0"),
    ("user.phone||-|| 1", "user.phone||-||1", None),  # PHP's (int) ' 1' is 1: the same meaning
    ("user.phone||-||last", "user.phone||-||last", None),
    ("user.phone||@||0||-||1", "user.phone||@||0", "LHC uses one split step only"),
    ("user.phone||-", "user.phone", "has a separator but no index"),
])
def test_split_indexes_lhc_accepts_import_with_lhcs_meaning(lhc, chatbridge, warned):
    result = imported({"phone": lhc})
    assert result.spec["phone"] == chatbridge
    assert (warned is None and result.warnings == []) or (warned in result.warnings[0] and
                                                          result.warnings[0].startswith("phone: "))


def test_the_cli_imports_a_split_index_lhc_accepts_instead_of_exit_2(tmp_path, capsys):
    export = tmp_path / "lhc.json"
    export.write_text(json.dumps({"identifier": "abcd", "configuration": {
        "chat_id": "user.id", "phone": "user.phone||-||-1", "msg_body": "{{msg.text}}"}}))
    assert run_cli("import-lhc", str(export)) == 0
    assert json.loads(capsys.readouterr().out)["phone"] == "user.phone"
    phone = mapped(convert(json.loads(export.read_text())),
                   {"user": {"id": 1, "phone": "+44-7700"}, "text": "hi"}).chats[0].phone
    assert phone == "+44-7700"  # the whole value, as LHC keeps it


# 3. a placeholder never spans another {{ ---------------------------------------------------------------

def test_a_stray_brace_renders_like_lhc():
    result = imported({"msg_body": "{{msg.text} and {{msg.text}}"})
    assert result.warnings == []
    assert mapped(result, {"from": "1", "text": "hello"}).chats[0].messages[0].body == "{{msg.text} and hello"


# 4. LHC's condition semantics ---------------------------------------------------------------------------

def test_exists_fails_on_null_as_lhcs_isset_does():
    result = imported({"msg_cond": "photo=__exists__", "msg_cond_2": "caption", "msg_body_2": "{{msg.caption}}"})
    assert result.spec["text"][-1]["conditions"] == "photo=__exists__||photo!=null"
    assert result.spec["text"][0]["conditions"] == "caption=__exists__||caption!=null"
    # no kind takes it: kept as chatbridge keeps what no kind matches (issue 14), not as the text kind
    assert [m.body for m in mapped(result, {"from": "1", "text": "x", "photo": None}).chats[0].messages] == [
        "[unsupported: unknown]"]
    assert mapped(result, {"from": "1", "text": "x", "photo": [1]}).chats[0].messages[0].body == "x"


def test_a_numeric_value_matches_the_number_in_any_form_as_in_lhc():
    result = imported({"main_cond": "ack=1"})
    [warning] = result.warnings  # numeric *text* ("1.0") compares by value in PHP only
    assert warning.startswith("main_cond: LHC compares 'ack=1' with PHP's loose ==: a number there also matches "
                              "numeric text of the same value ('1.0', '01');")
    assert mapped(result, {"from": "1", "text": "x", "ack": 1.0}).accepted
    assert not mapped(result, {"from": "1", "text": "x", "ack": 2}).accepted


def test_where_lhcs_comparison_cannot_be_written_the_import_warns():
    result = imported({"main_cond": "fromMe=false", "msg_cond_2": "type!=image", "msg_body_2": "x",
                       "msg_cond_img": "type=image||isMedia", "msg_img": "{{msg.caption}}"})
    [boolean, override, negation] = result.warnings  # in LHC's order: main_cond, images, text kinds
    assert boolean.startswith("main_cond: LHC compares 'fromMe=false' with PHP's loose ==") and "'0'" in boolean
    assert negation.startswith("msg_cond_2: LHC has no '!='") and "never held there" in negation
    listed = imported({"main_cond": "contacts.[type=phone].v=p2", "msg_cond": "caption=", "msg_cond_2": "n=0",
                       "msg_body_2": "x"}).warnings
    assert listed[0].startswith("main_cond: LHC cuts 'contacts.[type=phone].v=p2' at its first '='")
    assert "an empty value there also matches false" in listed[2] and "0 matches false" in listed[1]
    assert override.startswith("msg_cond_img: in LHC a message that has isMedia takes this kind")
    # chatbridge's meaning, which the warning names: the text "false" matches, 0 does not
    assert mapped(result, {"from": "1", "text": "x", "fromMe": "false"}).accepted
    assert not mapped(result, {"from": "1", "text": "x", "fromMe": 0}).accepted


# 5. media settings become the kind's fetch --------------------------------------------------------------

def test_open_wa_decrypt_media_settings_become_a_post_fetch_and_the_body_key_the_link():
    spec = convert(json.loads(GUIDE.read_text())).spec
    assert spec["image"] == {"conditions": "type=image", "body": "{{file_url}}", "fetch": {
        "url": "http://openwa.internal:8002/decryptMedia", "method": "POST",
        "body": '{"args": {\n    "message": {{msg.id}}\n}}', "response": "data_url", "location": "response"}}
    assert spec["attachment"]["body"] == "{{msg.caption}}\n{{file_url}}"
    image = {"event": "onMessage", "data": {"id": "false_1@c.us_A", "type": "image", "body": None,
                                            "chatId": "447700900000@c.us", "t": 1}}
    [message] = map_payload(IncomingWebhookSpec.model_validate(spec), image).chats[0].messages
    assert message.kind == "image" and message.media.preview == "{{file_url}}"  # stored, not skipped
    assert message.media.fetch.body == b'{"args": {\n    "message": "false_1@c.us_A"\n}}'


def test_a_plain_download_fetches_the_url_at_the_body_key_with_name_type_and_headers():
    result = imported({"msg_cond_attachments": "type=document", "msg_attachments": "{{msg.file.url}} ({{msg.name}})",
                       "msg_attachments_download": True, "msg_cond_attachments_body": "file.url",
                       "msg_cond_attachments_file_name": "name", "msg_cond_attachments_mime_type": "file.mime",
                       "msg_cond_attachments_url_headers_content": "X-Token abc",
                       "msg_cond_attachments_array": "files", "msg_cond_attachments_file_size": "size"})
    assert result.spec["attachment"] == {"conditions": "type=document", "body": "{{file_url}} ({{msg.name}})",
                                         "fetch": {"url": "{{msg.file.url}}",
                                                   "filename": "{{msg.name}}", "content_type": "{{msg.file.mime}}"}}
    assert [w.split(":")[0] for w in result.warnings] == [
        "msg_cond_attachments_url_headers_content", "msg_cond_attachments_array", "msg_cond_attachments_file_size"]


def test_a_decode_answering_the_files_url_becomes_a_resolve_step():
    result = imported({"msg_cond_img": "type=image", "msg_img": "{{msg.body}}",
                       "msg_cond_img_url_decode": "https://api.example.com/media/{{msg.media_id}}",
                       "msg_cond_img_url_decode_output": "data.url", "msg_cond_img_url_remote_location": True,
                       "msg_cond_img_body": "body"})
    assert result.spec["image"]["fetch"] == {"resolve": {"url": "https://api.example.com/media/{{msg.media_id}}",
                                                         "method": "GET", "location": "data.url"},
                                             "url": "{{resolved}}"}
    assert result.warnings == []


def test_media_settings_that_cannot_become_a_fetch_are_warned_and_the_kind_kept():
    result = imported({"msg_cond_img": "type=image", "msg_img": "{{msg.data}}", "msg_cond_img_body": "data",
                       "msg_cond_img_file_name": "name"})
    assert result.spec["image"] == {"conditions": "type=image", "body": "{{msg.data}}"}
    assert result.warnings[0].startswith("msg_cond_img_body: without msg_cond_img_url_decode or msg_img_download "
                                         "LHC reads a base64 file")
    sent_headers = imported({"msg_cond_img": "type=image", "msg_img": "x", "msg_img_download": True,
                             "msg_cond_img_body": "url", "msg_cond_img_url_headers_content": "Authorization: k"})
    assert "fetch" not in sent_headers.spec["image"]
    assert "list the hosts they may go to" in sent_headers.warnings[0]


def test_media_requests_reading_the_webhooks_attributes_read_the_specs():
    result = imported({"attr": [{"key": "host", "value": "https://wa.example.com"}, {"key": "token", "value": "t1"}],
                       "msg_cond_img": "type=image", "msg_img": "{{msg.body}}", "msg_cond_img_body": "body",
                       "msg_cond_img_url_decode": "{{msg.incoming_webhook.attributes.host}}/decryptMedia",
                       "msg_cond_img_url_decode_content": '{"args": {"message": {{msg.id}}}}',
                       "msg_cond_img_url_decode_output": "response",
                       "msg_cond_img_url_headers_content": "api_key: {{msg.incoming_webhook.attributes.token}}"})
    fetch = result.spec["image"]["fetch"]
    assert (fetch["url"], fetch["headers"]) == ("{{attributes.host}}/decryptMedia", {"api_key": "{{attributes.token}}"})
    [message] = mapped(result, {"from": "1", "type": "image", "id": "m1"}).chats[0].messages
    assert (message.media.fetch.url, message.media.fetch.headers["api_key"]) == (
        "https://wa.example.com/decryptMedia", "t1")


# 6. Rest API exports through the CLI (the conversion: tests/unit/reply/test_lhc_rest_api_import.py) -------

def test_a_rest_api_export_is_recognised_instead_of_failing_with_no_identifier(tmp_path, capsys):
    with pytest.raises(LhcImportError, match="this is an LHC Rest API export"):
        convert(json.loads(GUIDE_REST.read_text()))
    assert run_cli("import-lhc", str(GUIDE_REST), "--scope", "whatsapp", "--json") == 0
    document = json.loads(capsys.readouterr().out)["document"]
    assert [w["conditions"][:2] for w in document["webhooks"]] == [  # text, then the file variant's (sendFile)
        ["{args.chat.incoming_chat.incoming.scope} = whatsapp", "{args.file.url} empty"],
        ["{args.chat.incoming_chat.incoming.scope} = whatsapp", "{args.file.url} notempty"],
        ["{args.chat.incoming_chat.incoming.scope} = whatsapp", "{args.file.url} notempty"]]
    assert document["incoming_webhooks"] == []


def test_importing_both_exports_makes_one_setup_document_and_checks_the_host_attribute(tmp_path, capsys):
    row = json.loads(GUIDE.read_text())
    configuration = json.loads(row["configuration"])
    configuration["attr"] = [{"key": "token", "value": "t"}]  # no host: every reply would fail
    incoming = tmp_path / "incoming.json"
    incoming.write_text(json.dumps({**row, "configuration": json.dumps(configuration)}))
    out = tmp_path / "setup.json"
    assert run_cli("import-lhc", str(incoming), str(GUIDE_REST), "-o", str(out)) == 0
    document = json.loads(out.read_text())
    assert [len(document[s]) for s in ("rest_apis", "incoming_webhooks", "webhooks")] == [2, 1, 3]  # + sendFile
    err = capsys.readouterr().err
    assert f"{GUIDE_REST}: open-wa-sendmessage: its URL takes the host from attribute 'host'" in err
    assert f"{GUIDE_REST}: open-wa-sendmessage-file: its URL takes the host from attribute 'host'" in err
    assert "store it with: chatbridge webhooks apply -f" in err
    assert run_cli("import-lhc", str(incoming), str(incoming)) == 2
    assert "one incoming webhook export at a time" in capsys.readouterr().err


# messages and main settings, as LHC's form saves them (and older versions did) --------------------------

def guide_row(**configuration):
    row = json.loads(GUIDE.read_text())
    return {**row, "configuration": json.dumps({**json.loads(row["configuration"]), **configuration})}


@pytest.mark.parametrize("key, value, field, expected", [
    ("messages", "data", "messages", "data"),
    ("message_direct", True, None, None),  # an object at messages is one message in chatbridge anyway
    ("message_direct", "on", None, None),
    ("message_id", "id", "message_id", "id"),
    ("message_id_uniq", True, None, None),
    ("time", "t", "time", "t"),
    ("nick", "sender.pushname|||sender.name", "nick", "sender.pushname|||sender.name"),
    ("phone", "chatId||@||0", "phone", "chatId||@||0"),
    ("email", "sender.email", "email", "sender.email"),
    ("chat_id", "chatId", "chat_id", "chatId"),
    ("chat_id_template", "{chat_id}@c.us", "chat_id_template", "{chat_id}@c.us"),
    ("main_cond", "event=onMessage", "conditions", "event=onMessage"),
])
def test_each_main_setting_lhc_saves_is_carried(key, value, field, expected):
    result = convert(guide_row(**{key: value}))
    if field is not None:
        assert result.spec[field] == expected
    assert not [w for w in result.warnings if w.startswith(f"{key}:")]


@pytest.mark.parametrize("key, value, reason", [
    ("message_id_reply", "quotedMsg.id", "reply-to references are not stored"),
    ("nick_pregmatch", "/^.+$/", "a nick filter by regular expression"),
    ("ip", "ip", "chats have no IP address"),
    ("country_code", "cc", "chats have no IP address or country"),
    ("chat_id_2", "to", "a second chat id part"),
    ("chat_id_switch", "fromMe=true", "a second chat id part"),
    ("chat_id_preg_rule", "/@.*$/", "rewriting the chat id with a regular expression"),
    ("chat_id_preg_value", "x", "rewriting the chat id with a regular expression"),
    ("add_field_value", "chatId", "chat variables iwh_field"),
    ("add_field_2_value", "to", "chat variables iwh_field"),
    ("add_field_value_placeholder", "{chat_id_2}", "operator starting a chat (push chat)"),
    ("chat_id_name", "Recipient phone", "operator starting a chat (push chat)"),
    ("chat_id_2_name", "Sender", "operator starting a chat (push chat)"),
    ("chat_id_list", "4477\n4478", "operator starting a chat (push chat)"),
    ("chat_id_2_list", "a\nb", "operator starting a chat (push chat)"),
    ("messages", "payload.messages", "LHC reads 'payload.messages' as one first-level key"),
])
def test_each_main_setting_chatbridge_cannot_carry_is_warned_with_its_reason(key, value, reason):
    warnings = convert(guide_row(**{key: value})).warnings
    assert any(w.startswith(f"{key}:") and reason in w for w in warnings), warnings


@pytest.mark.parametrize("row_fields, spec_fields, warned", [
    # older LHC: the row without icon/log columns, flags as the database gives them ("0"/"1" text)
    ({"disabled": "1", "dep_id": "3"}, {"enabled": False}, ["dep_id"]),
    ({"disabled": "0"}, {}, ["dep_id"]),
    # the current form: icon, colour and both log flags, as integers or booleans
    ({"disabled": 0, "icon": "whatsapp", "icon_color": "#25D366", "log_incoming": 1, "log_failed_parse": 1},
     {"log_requests": True}, ["dep_id", "icon", "icon_color"]),
    ({"disabled": True, "log_incoming": False, "log_failed_parse": True}, {"enabled": False},
     ["log_failed_parse", "dep_id"]),
])
def test_row_settings_old_and_new(row_fields, spec_fields, warned):
    result = convert({**guide_row(), **row_fields})
    assert {k: result.spec[k] for k in ("enabled", "log_requests") if k in result.spec} == spec_fields
    assert [w.split(":")[0] for w in result.warnings] == warned


def _form_keys():
    """Every configuration key LHC's incoming webhook form (form_incoming.tpl.php) saves today, and the two its
    older versions saved that it no longer does."""
    media = ["_array", "_body", "_file_name", "_file_size", "_mime_type", "_op", "_op_unread", "_url_decode",
             "_url_decode_content", "_url_decode_output", "_url_headers_content", "_url_remote_headers_content",
             "_url_remote_location"]
    kinds = ["attachments", "img", *(f"img_{n}" for n in range(2, 7))]
    delivery = {status: ["chat_id", "chat_id_2", "condition", "id", "use_msg_id"] for status in
                ("deleted", "delivered", "edited", "reaction", "read", "rejected", "sent", "un_reaction")}
    delivery["edited"].append("location")
    delivery["reaction"] += ["action_id", "location", "remove_if_empty", "remove_prev", "use_emoji"]
    delivery["un_reaction"] += ["action_id", "use_emoji"]
    delivery["read"].append("global")
    return [
        "add_field_2_value", "add_field_value", "add_field_value_placeholder", "chat_id", "chat_id_2",
        "chat_id_2_list", "chat_id_2_name", "chat_id_list", "chat_id_name", "chat_id_preg_rule", "chat_id_preg_value",
        "chat_id_switch", "chat_id_template", "chat_status", "country_code", "email", "ip", "main_cond",
        "message_direct", "message_id", "message_id_reply", "message_id_uniq", "messages", "nick", "nick_pregmatch",
        "phone", "reset_dep", "reset_op", "time", "msg_body", "msg_cond", "msg_attachments", "msg_cond_attachments",
        "msg_attachments_download", *(f"msg_{p}_{n}" for p in ("body", "cond") for n in range(2, 5)),
        *(f"msg_btn_{p}_{n}" for p in ("body", "cond", "cond_payload", "payload") for n in range(1, 4)),
        *(f"msg_cond_{kind}{suffix}" for kind in kinds for suffix in media),
        *(f"msg_{kind}" for kind in kinds[1:]), *(f"msg_cond_{kind}" for kind in kinds[1:]),
        *(f"msg_{kind}_download" for kind in kinds[1:]),
        "msg_cond_op", *(f"msg_cond_op_{n}" for n in range(2, 5)), "msg_cond_op_unread",
        *(f"msg_cond_op_{n}_unread" for n in range(2, 5)),
        *(f"msg_delivery_{status}_{field}" for status, fields in delivery.items() for field in fields),
        "msg_img_base64", "msg_attachments_base64",  # saved by older versions of the form
    ]


@pytest.mark.parametrize("key", _form_keys())
def test_every_key_lhcs_form_saves_is_carried_or_warned_with_a_reason_and_never_fails_the_import(key):
    value = {"chat_status": "pending", "main_cond": "event=onMessage", "chat_id": "from"}.get(key, "value")
    result = convert(guide_row(**{key: value}))
    about = [w for w in result.warnings if w.startswith(f"{key}:")]
    assert not [w for w in about if "unknown to chatbridge" in w], about
    if key.endswith("_base64"):
        assert "older LHC forms' 'base64 encoded content' flag" in about[0]


def test_rest_api_options_without_a_rest_api_export_are_an_error(capsys):
    assert run_cli("import-lhc", str(GUIDE), "--scope", "whatsapp") == 2
    assert "--scope and --method apply to a Rest API export" in capsys.readouterr().err


def test_a_split_index_in_a_body_placeholder_never_loses_the_body():
    result = imported({"msg_body": "{{msg.from||@||x}}: {{msg.text}}"})
    assert result.spec["text"] == [{"conditions": "", "body": "{{msg.from||@||0}}: {{msg.text}}"}]
    assert result.warnings[0].startswith("msg_body: LHC renders {{msg.from||@||x}} as nothing")
    assert result.warnings[1] == "msg_body: LHC reads the split index 'x' as 0; imported so"
