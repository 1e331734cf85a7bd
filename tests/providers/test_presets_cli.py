"""``chatbridge presets`` against the real admin and ingest handlers on moto, reached over HTTP.

A local HTTP server plays API Gateway: each request is routed by the template's own routes, turned into
the proxy event API Gateway sends (the local stack's ``build_event``) and handed to the function's handler.
"""

import argparse
import json
import re

import pytest

from chatbridge.cli import presets
from chatbridge.spec.verification import TwilioSignature, twilio_signature
from support.paths import PAYLOADS
from support.presets import PARAMETERS


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="chatbridge")
    presets.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def api(template_api):
    return template_api


def apply(endpoint, name, identifier, replace=False, **values):
    pairs = [f"--set={key}={value}" for key, value in {**PARAMETERS[name], **values}.items()]
    return run_cli("presets", "apply", name, "--identifier", identifier, *pairs, "--endpoint", endpoint,
                   *(["--replace"] if replace else []))


def get(endpoint, path):
    import urllib.request
    with urllib.request.urlopen(endpoint + path, timeout=10) as answer:
        return json.loads(answer.read())


def test_apply_stores_the_three_objects_and_prints_the_webhook_url_and_secrets(api, capsys):
    assert apply(api, "whatsapp-cloud", "wa-cloud") == 0
    out = capsys.readouterr().out
    spec = get(api, "/admin/incoming-webhooks/wa-cloud")
    assert spec["verification"]["handshake"] == {"verify_token": "change-me"} and spec["scope"] == "whatsapp"
    rest_api = get(api, "/admin/rest-apis/wa-cloud-send")
    assert rest_api["url"] == "https://graph.facebook.com/v21.0/106540352242922/messages"
    assert rest_api["headers"]["Authorization"] == "Bearer {{ssm:/chatbridge/wa-cloud/token}}"
    webhook = get(api, "/admin/webhooks/wa-cloud-replies")
    assert webhook["event"] == "chat.web_add_msg_admin" and webhook["rest_api_id"] == "wa-cloud-send"
    assert webhook["conditions"] == [f"{{args.chat.iwh_id}} = {spec['id']}", "{args.file.url} empty"]
    for kind in ("image", "document"):  # operator files go by other webhooks: images and documents by link
        file_webhook = get(api, f"/admin/webhooks/wa-cloud-files-{kind}")
        assert file_webhook["rest_api_id"] == f"wa-cloud-send-{kind}"
        assert file_webhook["conditions"][:2] == [f"{{args.chat.iwh_id}} = {spec['id']}", "{args.file.url} notempty"]
        assert f"applied outgoing webhook wa-cloud-files-{kind}: operator files" in out
    assert f"applied incoming webhook wa-cloud (id {spec['id']})" in out
    assert f"{api}/webhooks/incoming/wa-cloud" in out
    assert "aws ssm put-parameter --type SecureString --name /chatbridge/wa-cloud/token" in out
    assert "Verify token change-me" in out


def test_reapplying_updates_the_same_objects_and_keeps_the_spec_id(api, capsys):
    assert apply(api, "viber", "viber-bot") == 0
    first = get(api, "/admin/incoming-webhooks/viber-bot")["id"]
    assert apply(api, "viber", "viber-bot", sender_name="Help desk") == 0  # the same preset: no --replace needed
    assert get(api, "/admin/incoming-webhooks/viber-bot")["id"] == first
    assert '"name": "Help desk"' in get(api, "/admin/rest-apis/viber-bot-send")["body"]
    assert sorted(w["id"] for w in get(api, "/admin/webhooks")["webhooks"]) == [
        "viber-bot-files-caption", "viber-bot-files-file", "viber-bot-files-picture", "viber-bot-replies"]


def test_apply_prints_a_chatbridge_secrets_set_line_for_each_secret_for_local_and_aws(api, capsys):
    assert apply(api, "open-wa", "wa-local") == 0
    out = capsys.readouterr().out
    assert f"  chatbridge secrets set /chatbridge/wa-local/api_key - --endpoint {api}   # " in out
    assert "works on the local stack and on AWS alike" in out
    assert "On AWS only, the AWS CLI does the same" in out


def put_by_hand(endpoint, spec):
    import urllib.request

    request = urllib.request.Request(f"{endpoint}/admin/incoming-webhooks/{spec['identifier']}", method="PUT",
                                     data=json.dumps(spec).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_a_preset_does_not_replace_another_preset_s_spec_without_replace(api, capsys):
    assert apply(api, "open-wa", "shared-bot") == 0
    before = get(api, "/admin/incoming-webhooks/shared-bot")
    assert before["preset"] == "open-wa"
    capsys.readouterr()
    assert apply(api, "telegram", "shared-bot") == 2
    err = capsys.readouterr().err
    assert (f"incoming webhook 'shared-bot' already exists (id {before['id']}, name 'WhatsApp (open-wa)', "
            "scope 'whatsapp'), made by preset open-wa: applying preset telegram would turn it and its chats "
            "into a telegram webhook") in err
    assert "--replace" in err
    assert get(api, "/admin/incoming-webhooks/shared-bot") == before  # nothing stored, not even the REST API
    assert get(api, "/admin/rest-apis/shared-bot-send")["url"].startswith("https://wa.example.com")

    assert apply(api, "telegram", "shared-bot", replace=True) == 0
    after = get(api, "/admin/incoming-webhooks/shared-bot")
    assert (after["id"], after["preset"], after["scope"]) == (before["id"], "telegram", "telegram")


def test_a_preset_does_not_replace_a_hand_made_spec_without_replace(api, capsys):
    put_by_hand(api, {"identifier": "openwa-demo", "name": "WhatsApp (by hand)", "scope": "whatsapp",
                      "chat_id": "from", "text": [{"body": "{{msg.body}}"}]})
    assert apply(api, "telegram", "openwa-demo") == 2
    err = capsys.readouterr().err
    assert "incoming webhook 'openwa-demo' already exists" in err and "made by hand (no preset)" in err
    assert get(api, "/admin/incoming-webhooks/openwa-demo")["name"] == "WhatsApp (by hand)"
    assert apply(api, "telegram", "openwa-demo", replace=True) == 0
    assert get(api, "/admin/incoming-webhooks/openwa-demo")["preset"] == "telegram"


def test_a_missing_parameter_is_a_usage_error_naming_it_and_stores_nothing(api, capsys):
    code = run_cli("presets", "apply", "telegram", "--identifier", "tg-bot", "--set", "base_url=https://t.example",
                   "--endpoint", api)
    assert code == 2
    assert "missing required parameter: secret (the secret_token you pass to setWebhook" in capsys.readouterr().err
    assert get(api, "/admin/incoming-webhooks")["incoming_webhooks"] == []
    assert run_cli("presets", "apply", "telegram", "--identifier", "tg-bot", "--set", "token", "--endpoint", api) == 2
    assert "--set 'token': write KEY=VALUE" in capsys.readouterr().err


def test_telegram_preset_takes_updates_with_the_secret_token_only(api, capsys):
    assert apply(api, "telegram", "tg-bot") == 0
    import urllib.error
    import urllib.request
    body = (PAYLOADS / "telegram" / "courier_helloMsg.json").read_bytes()

    def post(headers):
        request = urllib.request.Request(f"{api}/webhooks/incoming/tg-bot", data=body, method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post({})[0] == 401
    assert post({"X-Telegram-Bot-Api-Secret-Token": "wrong"})[0] == 401
    status, answer = post({"X-Telegram-Bot-Api-Secret-Token": "tg-secret"})
    assert status == 200 and answer["messages"] == 1
    [chat] = get(api, "/admin/chats?incoming=tg-bot")["chats"]
    assert chat["nick"] == "Nic Pottier" and chat["incoming_chat"]["chat_external_id"] == "3527065"


def test_twilio_preset_checks_the_signature_over_the_url_it_printed(api, capsys):
    assert apply(api, "twilio", "twilio-sms") == 0
    import urllib.error
    import urllib.request
    url = f"{api}/webhooks/incoming/twilio-sms"
    assert url in capsys.readouterr().out
    body = (PAYLOADS / "twilio" / "courier_receiveValid.txt").read_bytes()
    good = twilio_signature(TwilioSignature(auth_token=PARAMETERS["twilio"]["auth_token"], url=url), body)
    bad = twilio_signature(TwilioSignature(auth_token=PARAMETERS["twilio"]["auth_token"], url=url + "x"), body)

    def post(signature):
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    assert post(bad) == 401
    assert post(good) == 200
    status = (PAYLOADS / "twilio" / "courier_statusValid.txt").read_bytes()
    signed = twilio_signature(TwilioSignature(auth_token=PARAMETERS["twilio"]["auth_token"], url=url), status)
    request = urllib.request.Request(url, data=status, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signed})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200 and json.loads(answer.read())["status"] == "ignored"


def test_list_shows_every_preset_with_its_required_parameters(capsys):
    assert run_cli("presets", "list") == 0
    out = capsys.readouterr().out
    for name in PARAMETERS:
        assert re.search(rf"^{re.escape(name)}\s", out, re.MULTILINE)
    assert "token, secret*, base_url" in out
    assert run_cli("presets", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in listed] == list(PARAMETERS) and all(p["supports"] and p["ignores"] for p in listed)
