"""``chatbridge import-lhc``: a Live Helper Chat export becomes a spec; what cannot come along is listed."""

import argparse
import json
import re

import pytest

from chatbridge.cli import import_lhc
from chatbridge.errors import LhcImportError
from chatbridge.ingest.payload import decode_body
from chatbridge.spec.lhc_import import convert
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from support.paths import FIXTURES, PAYLOADS

EXPORT = FIXTURES / "lhc_openwa_export.json"
# what chatbridge does on its own (dedup on message_id, an object at `messages` is one message)
IMPLICIT = {"message_direct", "message_id_uniq"}
MAPPED = {"name", "identifier", "scope", "disabled", "log_incoming", "messages", "chat_id", "phone", "email", "time",
          "message_id", "chat_id_template", "nick", "main_cond", "attr", "chat_status", "reset_op", "msg_cond",
          "msg_body", "msg_cond_2", "msg_body_2", "msg_cond_img", "msg_img", "msg_cond_attachments",
          "msg_attachments", "msg_btn_cond_1", "msg_btn_body_1",
          # media settings, imported into the kinds' fetch
          "msg_img_download", "msg_cond_img_body", "msg_cond_attachments_url_decode",
          "msg_cond_attachments_url_decode_content"}


def export():
    return json.loads(EXPORT.read_text())


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="chatbridge")
    import_lhc.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_the_export_becomes_the_equivalent_spec():
    spec = convert(export()).spec
    assert spec == {
        "identifier": "whatsapp-openwa", "name": "WhatsApp (open-wa)", "scope": "whatsapp",
        "chat_id": "from", "phone": "from||@||0", "time": "t", "message_id": "id", "chat_id_template": "{chat_id}@c.us",
        "nick": "sender.pushname|||sender.formattedName", "nick_combine": "join",
        "conditions": "type=chat,image,location,document,buttons_response||fromMe=false",
        "attributes": {"api_url": "https://wa.example.com", "session": "sales"},
        "on_closed_chat": "active", "reset_operator": True,
        # LHC's __exists__ fails on null (PHP's isset); msg_cond_attachments_url_decode is the fetch (no
        # msg_cond_attachments_body: the link is appended), msg_img_download fetches the URL at body
        "attachment": {"conditions": "type=document||isMedia=__exists__||isMedia!=null",
                       "body": "[file={{msg.clientUrl}}] {{msg.filename}}",
                       "fetch": {"url": "https://wa.example.com/decryptMedia", "method": "POST",
                                 "body": '{"args":{"message":{{msg.id}}}}', "response": "data_url"}},
        "image": {"conditions": "type=image", "body": "[img]{{file_url}}[/img] {{msg.caption}}",
                  "fetch": {"url": "{{msg.body}}"}},
        "text": [  # LHC's order: msg_body_2.., buttons, then msg_body as the last resort
            {"conditions": "type=location", "body": "{{msg.loc}} https://maps.google.com/?q={{msg.lat}},{{msg.lng}}"},
            {"conditions": "type=buttons_response", "body": "{{msg.body}}"},
            {"conditions": "type=chat", "body": "{{msg.body}}"},
        ],
    }
    IncomingWebhookSpec.model_validate(spec)


def test_every_set_key_of_the_export_is_either_carried_or_named_in_a_warning():
    row = export()
    configuration = json.loads(row["configuration"])
    warnings = convert(row).warnings
    warned = {warning.split(":", 1)[0].split(" ", 1)[0] for warning in warnings}
    is_set = [key for key, value in {**row, **configuration}.items()
              if key != "configuration" and value not in (None, "", False, [], {}, 0)]
    silently_dropped = [key for key in is_set if key not in MAPPED | IMPLICIT | warned]
    assert silently_dropped == []
    assert {"id", "dep_id", "icon", "icon_color", "log_failed_parse", "chat_id_preg_rule", "add_field_value",
            "msg_cond_3", "msg_body_4", "msg_btn_payload_1",
            "msg_cond_img_2", "msg_img_2", "msg_delivery_read_id",
            "msg_delivery_read_condition"} <= warned
    # carried, with a note where LHC's condition semantics differ from chatbridge's
    assert warned & MAPPED == {"main_cond", "msg_cond_attachments"}


def test_the_imported_spec_maps_open_wa_messages_as_lhc_did():
    spec = IncomingWebhookSpec.model_validate(convert(export()).spec)
    for file, kind, body in (
            ("openwa_v5docs_incoming_text.json", "text", "Hi, is my order ready?"),
            ("openwa_v5docs_incoming_location.json", "text", "London https://maps.google.com/?q=51.5074,-0.1278"),
            ("openwa_v5docs_incoming_image.json", "image", "[img]{{file_url}}[/img] Receipt from today")):
        result = map_payload(spec, decode_body((PAYLOADS / "openwa" / file).read_bytes(), content_type=None))
        [chat] = result.chats
        assert (chat.messages[0].kind, chat.messages[0].body, chat.phone) == (kind, body, "447700900000")
    own = decode_body((PAYLOADS / "openwa" / "openwa_v5docs_outgoing_group_fromMe.json").read_bytes(),
                      content_type=None)
    assert not map_payload(spec, own).accepted


def test_nick_parts_are_joined_like_lhc():
    spec = IncomingWebhookSpec.model_validate(convert(
        {"identifier": "tg-bot", "configuration": {"messages": "message", "chat_id": "chat.id",
                                                   "nick": "from.first_name|||from.last_name", "msg_body": "{{msg.text}}"}}).spec)
    payload = decode_body((PAYLOADS / "telegram" / "courier_helloMsg.json").read_bytes(), content_type=None)
    assert map_payload(spec, payload).chats[0].nick == "Nic Pottier"


def test_the_configuration_alone_and_as_an_object_are_accepted_with_an_identifier():
    configuration = json.loads(export()["configuration"])
    assert convert(configuration, identifier="wa-bare").spec["identifier"] == "wa-bare"
    row = {**export(), "configuration": configuration}
    assert convert([row], identifier="other-id").spec["identifier"] == "other-id"
    with pytest.raises(LhcImportError, match="give one with --identifier"):
        convert(configuration)


@pytest.mark.parametrize("document,reason", [
    ({"identifier": "x y z w", "configuration": {"chat_id": "from", "msg_body": "{{msg.body}}"}}, "identifier 'x y z w'"),
    ({"identifier": "abcd", "configuration": {"msg_body": "{{msg.body}}"}}, "no chat_id"),
    ({"identifier": "abcd", "configuration": {"chat_id": "from", "msg_cond_img": "type=image"}},
     "no message kind could be imported (msg_body, msg_img, msg_attachments): msg_cond_img: has no msg_img"),
    ({"identifier": "abcd", "configuration": {"chat_id": "from", "main_cond": "=chat", "msg_body": "x"}},
     "main_cond '=chat' cannot be converted"),
    ({"identifier": "abcd", "configuration": "{not json"}, "'configuration' is not JSON"),
    ({"name": "nothing to see"}, "neither an LHC incoming webhook"),
    ([{}, {}], "export one webhook at a time"),
])
def test_exports_that_cannot_become_a_spec_say_why(document, reason):
    with pytest.raises(LhcImportError, match=re.escape(reason)):
        convert(document)


def test_clauses_without_a_value_mean_exists_and_unusable_bodies_are_warned_not_kept():
    imported = convert({"identifier": "abcd", "configuration": {
        "chat_id": "from", "msg_cond_2": "location", "msg_body_2": "{{msg.location}}",
        "msg_body": "{{args.chat.id}}", "msg_cond_attachments": "=x", "msg_attachments": "{{msg.file}}",
        "msg_cond_img": "type=image", "msg_img": "{{msg.url}}"}})
    assert imported.spec["text"] == [{"conditions": "location=__exists__||location!=null",
                                       "body": "{{msg.location}}"}]
    assert "attachment" not in imported.spec
    assert [w.split(":")[0] for w in imported.warnings] == ["msg_cond_attachments", "msg_body"]
    assert "msg_attachments not imported" in imported.warnings[0]


def test_cli_writes_the_spec_and_lists_warnings_on_stderr(tmp_path, capsys):
    out = tmp_path / "spec.json"
    assert run_cli("import-lhc", str(EXPORT), "-o", str(out), "--identifier", "wa-imported") == 0
    spec = json.loads(out.read_text())
    assert spec["identifier"] == "wa-imported"
    err = capsys.readouterr().err
    assert "warning: msg_delivery_read_id: delivery statuses" in err
    assert f"wrote {out}: spec wa-imported (16 warnings)" in err


def test_cli_json_mode_carries_the_warnings_list_and_errors_exit_2(tmp_path, capsys):
    assert run_cli("import-lhc", str(EXPORT), "--json") == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["spec"] == convert(export()).spec and len(document["warnings"]) == 16
    assert captured.err == ""
    broken = tmp_path / "broken.json"
    broken.write_text('{"identifier": "abcd", "configuration": {"msg_body": "x"}}')
    assert run_cli("import-lhc", str(broken)) == 2
    assert "error: the LHC configuration has no chat_id" in capsys.readouterr().err
    assert run_cli("import-lhc", str(tmp_path / "missing.json")) == 2
