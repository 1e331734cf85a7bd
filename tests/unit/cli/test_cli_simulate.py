"""`chatbridge simulate` as a user runs it: the real console script, a spec file and a payload file."""

import json
import subprocess
import sys

import pytest

from chatbridge.cli import COMMANDS, build_parser, main
from support.paths import PAYLOADS, ROOT, SPECS
from support.presets import preset_spec

CHATBRIDGE = ROOT / ".venv" / "bin" / "chatbridge"


@pytest.fixture
def preset_file(tmp_path):
    """A spec file holding the provider's preset spec: the one canonical spec per provider."""
    def write(name):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(preset_spec(name, identifier=f"{name}-sim")))
        return path
    return write


def simulate(capsys, *argv):
    code = main(["simulate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prints_the_mapping_document(capsys, preset_file):
    code, out, err = simulate(capsys, "--spec", str(preset_file("whatsapp-cloud")),
                              "--payload", str(PAYLOADS / "whatsapp_cloud" / "courier_duplicate.json"))
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["accepted"] is True and document["reason"] is None and document["skipped"] == []
    [chat] = document["chats"]
    assert set(chat) == {"chat_external_id", "nick", "phone", "email", "messages"}
    assert chat["messages"] == [{"kind": "text", "body": "Hello World", "message_id": "external_id",
                                 "time": 1454119029, "author": {"name": "Kerry Fisher", "id": "5678"}}] * 2


def test_prints_receipts_operator_messages_groups_and_edits(capsys, preset_file):
    """What the provider says besides visitor messages shows in the document: what would be stored where."""
    code, out, _ = simulate(capsys, "--spec", str(preset_file("whatsapp-cloud")),
                            "--payload", str(PAYLOADS / "whatsapp_cloud" / "pywa_status_failed.json"))
    assert code == 0
    assert json.loads(out)["receipts"] == [{"message_ids": ["wamid.xyzxyz"], "state": "failed", "reason": (
        "Failed to send message because this user's phone number is part of an experiment")}]
    code, out, _ = simulate(capsys, "--spec", str(preset_file("whatsapp-cloud")),
                            "--payload", str(PAYLOADS / "whatsapp_cloud" / "courier_group_message.json"))
    [chat] = json.loads(out)["chats"]
    assert (chat["chat_type"], chat["phone"], chat["messages"][0]["author"]) == (
        "group", None, {"name": "Kerry Fisher", "id": "5678"})
    code, out, _ = simulate(capsys, "--spec", str(preset_file("open-wa")),
                            "--payload", str(PAYLOADS / "openwa" / "openwa_v5docs_outgoing_group_fromMe.json"))
    [message] = json.loads(out)["chats"][0]["messages"]
    assert (message["user_id"], message["name_support"]) == (-2, "WhatsApp (open-wa)")


def test_form_payloads_are_sniffed_without_a_content_type(capsys, preset_file):
    code, out, _ = simulate(capsys, "--spec", str(preset_file("twilio")),
                            "--payload", str(PAYLOADS / "twilio" / "courier_waReceiveValid.txt"))
    assert code == 0
    assert json.loads(out)["chats"][0]["chat_external_id"] == "whatsapp:+14133881111"


def test_content_type_flag_overrides_the_sniffing(capsys, tmp_path, preset_file):
    payload = tmp_path / "body.txt"
    payload.write_text("<xml/>")
    code, out, err = simulate(capsys, "--spec", str(preset_file("twilio")), "--payload", str(payload),
                              "--content-type", "text/xml")
    assert (code, out) == (2, "")
    assert "text/xml" in err and "HTTP 415" in err


def test_ignored_payload_is_a_successful_simulation_with_the_reason(capsys, preset_file):
    code, out, _ = simulate(capsys, "--spec", str(preset_file("viber")),
                            "--payload", str(PAYLOADS / "viber" / "courier_webhookCheck.json"))
    assert code == 0
    assert json.loads(out) == {"accepted": False, "reason": "general conditions not met: 'event=message' does not hold",
                               "chats": [], "skipped": []}


def test_bad_spec_exits_2_naming_the_field_and_clause(capsys, tmp_path):
    spec = preset_spec("open-wa", identifier="open-wa-sim")
    spec["conditions"] = "fromMe=false||type"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(spec))
    code, out, err = simulate(capsys, "--spec", str(bad), "--payload", str(PAYLOADS / "openwa" /
                                                                            "openwa_v5docs_incoming_text.json"))
    assert (code, out) == (2, "")
    assert "conditions" in err and "clause 2 'type'" in err


def test_yaml_specs_are_read_too(capsys, tmp_path):
    import yaml

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(json.loads((SPECS / "vonage.json").read_text())))
    code, out, _ = simulate(capsys, "--spec", str(spec),
                            "--payload", str(PAYLOADS / "vonage" / "courier_nexmo_sms_inbound_form.txt"))
    assert code == 0 and json.loads(out)["chats"][0]["messages"][0]["body"] == "Join"


@pytest.mark.parametrize("payload, fragment", [("missing.json", "cannot read"), ("empty.json", "body is empty"),
                                               ("broken.json", "not valid JSON")])
def test_bad_payload_exits_2_with_the_reason(capsys, tmp_path, payload, fragment, preset_file):
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "broken.json").write_text('{"a": ')
    code, out, err = simulate(capsys, "--spec", str(preset_file("open-wa")), "--payload", str(tmp_path / payload))
    assert (code, out) == (2, "")
    assert fragment in err


def test_missing_spec_file_exits_2(capsys, tmp_path):
    code, _, err = simulate(capsys, "--spec", str(tmp_path / "nope.json"), "--payload", str(tmp_path))
    assert code == 2 and "cannot read" in err


def test_every_registered_command_module_builds_into_the_parser():
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices
    assert set(COMMANDS) <= set(choices)


def test_console_script_reads_the_payload_from_stdin(preset_file):
    body = (PAYLOADS / "telegram" / "courier_helloMsg.json").read_bytes()
    result = subprocess.run([str(CHATBRIDGE) if CHATBRIDGE.exists() else sys.executable, *(
        [] if CHATBRIDGE.exists() else ["-c", "import sys; from chatbridge.cli import main; sys.exit(main())"]),
        "simulate", "--spec", str(preset_file("telegram")), "--payload", "-"],
        input=body, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["chats"][0]["nick"] == "Nic Pottier"
