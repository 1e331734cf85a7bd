"""Bad input at the CLI's edges: a bad setup file or endpoint is exit 2 with a reason, never a traceback.

``webhooks apply`` runs against the real admin handler on moto behind a loopback HTTP server (routed by the
template, as API Gateway would), so "nothing was stored" is checked on the storage itself.
"""

import argparse
import json
import re
import urllib.request

import pytest

from chatbridge.cli import chats, webhooks
from chatbridge.cli.client import ChatbridgeClient, EndpointError

SPEC = {"identifier": "shop-1", "name": "Shop", "chat_id": "from", "text": [{"body": "{{msg.body}}"}]}
REST_API = {"id": "send", "method": "POST", "url": "https://api.example.test/send", "body": "{}"}
WEBHOOK = {"id": "replies", "event": "chat.web_add_msg_admin", "rest_api_id": "send"}


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="chatbridge")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (webhooks, chats):
        module.register(commands)
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def api(template_api):
    return template_api


def stored(endpoint):
    """Everything the admin API holds: specs, REST APIs, outgoing webhooks."""
    def listing(path, key):
        with urllib.request.urlopen(endpoint + path, timeout=10) as answer:
            return json.loads(answer.read())[key]
    return (listing("/admin/incoming-webhooks", "incoming_webhooks"), listing("/admin/rest-apis", "rest_apis"),
            listing("/admin/webhooks", "webhooks"))


def apply_file(endpoint, tmp_path, document, name="setup.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return run_cli("webhooks", "apply", "-f", str(path), "--endpoint", endpoint)


@pytest.mark.parametrize("document, message", [
    ([1, 2], "[0]: expected an incoming webhook spec (an object), got a number 1"),
    ([SPEC, "oops"], "[1]: expected an incoming webhook spec (an object), got a string 'oops'"),
    ([SPEC, {**SPEC, "identifier": "shop-2", "chat_id": ""}], "[1]: incoming webhook 'shop-2': chat_id:"),
    ([SPEC, {**SPEC, "identifier": "shop-2", "nik": "name"}], "[1]: incoming webhook 'shop-2': nik: Extra inputs"),
    ([SPEC, SPEC], "[1]: 'shop-1' is defined twice (also [0])"),
    ({"rest_apis": [REST_API], "incoming_webhooks": [SPEC], "webhooks": [{**WEBHOOK, "event": "chat.nope"}]},
     "webhooks[0]: webhook 'replies': event:"),
    ({"rest_apis": [REST_API, {"id": "other", "url": "ftp://x"}], "incoming_webhooks": [SPEC]},
     "rest_apis[1]: rest api 'other': url:"),
    ({"rest_apis": [REST_API], "webhooks": [WEBHOOK, {"event": "chat.close", "rest_api_id": "send"}]},
     "webhooks[1]: an outgoing webhook needs an 'id'"),
    ({"incoming_webhooks": [SPEC], "webhooks": [WEBHOOK]},
     "webhooks[0]: webhook 'replies': rest_api_id: no REST API 'send' in this file or already stored"),
    ({"rest_apis": {"send": REST_API}}, "rest_apis: expected a list of entries, got an object"),
    ({"name": "Shop", "chat_id": "from"}, "unknown section(s) ['chat_id', 'name']"),
])
def test_a_file_with_any_bad_entry_stores_nothing_and_names_the_entry(api, tmp_path, capsys, document, message):
    """Entries are stored one request at a time, so each is checked first: a bad second entry used to leave
    the first stored and end in a traceback."""
    assert apply_file(api, tmp_path, document) == 2
    err = capsys.readouterr().err
    assert message in err and "nothing was stored" in err and "Traceback" not in err
    assert stored(api) == ([], [], [])


def test_every_bad_entry_is_listed_at_once(api, tmp_path, capsys):
    assert apply_file(api, tmp_path, [SPEC, 1, {**SPEC, "identifier": "shop-2", "text": []}, "x"]) == 2
    err = capsys.readouterr().err
    assert re.findall(r"^  (\[\d\]):", err, re.MULTILINE) == ["[1]", "[2]", "[3]"]
    assert stored(api) == ([], [], [])


def test_a_condition_that_could_never_match_is_refused_before_anything_is_stored(api, tmp_path, capsys):
    bad = {**SPEC, "identifier": "shop-2", "text": [{"conditions": "type==chat", "body": "{{msg.body}}"}]}
    assert apply_file(api, tmp_path, {"rest_apis": [REST_API], "incoming_webhooks": [SPEC, bad]}) == 2
    assert "incoming_webhooks[1]: incoming webhook 'shop-2': text.0.conditions: condition clause 1 'type==chat': " \
           "'==' is not an operator (write type=chat)" in capsys.readouterr().err
    assert stored(api) == ([], [], [])


@pytest.mark.parametrize("document", ["{}", "[]", '{"rest_apis": [], "webhooks": null}', "", "# only a comment\n"])
def test_an_empty_document_is_an_error_not_a_silent_success(api, tmp_path, capsys, document):
    assert apply_file(api, tmp_path, document, name="setup.yaml") == 2
    err = capsys.readouterr().err
    assert "nothing to apply" in err or "expected an object or a list, got nothing" in err
    assert "nothing was stored" in err


def test_a_good_file_is_stored_whole_and_a_webhook_may_name_a_stored_rest_api(api, tmp_path, capsys):
    assert apply_file(api, tmp_path, {"rest_apis": [REST_API], "incoming_webhooks": [SPEC]}) == 0
    assert apply_file(api, tmp_path, {"webhooks": [WEBHOOK]}) == 0
    specs, rest_apis, outgoing = stored(api)
    assert ([s["identifier"] for s in specs], [r["id"] for r in rest_apis], [w["id"] for w in outgoing]) == \
        (["shop-1"], ["send"], ["replies"])
    out = capsys.readouterr().out
    assert "applied rest api send" in out and "applied incoming webhook shop-1" in out and "applied webhook replies" in out


def test_a_listed_spec_applies_again_as_it_was_shown(api, tmp_path):
    """The admin API ignores the server's fields (id, webhook_path...) in a body, and so does the check."""
    assert apply_file(api, tmp_path, [SPEC]) == 0
    listed = stored(api)[0]
    assert "webhook_path" in listed[0] and apply_file(api, tmp_path, listed) == 0


def test_the_check_ignores_the_same_server_fields_as_the_admin_api():
    from chatbridge.admin import spec_routes as admin
    from chatbridge.cli import documents

    assert documents.SERVER_FIELDS == admin.SERVER_FIELDS


@pytest.mark.parametrize("endpoint, message", [
    ("127.0.0.1:3000", "--endpoint '127.0.0.1:3000' has no scheme: write http://127.0.0.1:3000 for a local stack"),
    ("localhost:3000/", "--endpoint 'localhost:3000/' has no scheme: write http://localhost:3000 for a local stack"),
    ("ftp://127.0.0.1", "the scheme must be http:// or https://, not ftp://"),
    ("http://", "--endpoint 'http://' names no host"),
    ("http://127.0.0.1:99999", "is not a valid URL (Port out of range"),
    ("http://[::1", "is not a valid URL"),
    ("http://127.0.0.1:3000/?stage=x", "without '?' or '#'"),
])
def test_an_endpoint_no_request_could_go_to_is_a_usage_error(capsys, endpoint, message):
    """``127.0.0.1:3000`` used to be taken for an AWS endpoint and fail asking for AWS credentials."""
    assert run_cli("chats", "list", "--endpoint", endpoint) == 2
    err = capsys.readouterr().err
    assert message in err and "AWS" not in err and "Traceback" not in err


def test_the_endpoint_from_the_environment_is_checked_and_named_too(monkeypatch, capsys):
    monkeypatch.setenv("CHATBRIDGE_ENDPOINT", "127.0.0.1:3000")
    assert run_cli("chats", "list") == 2
    assert "$CHATBRIDGE_ENDPOINT '127.0.0.1:3000' has no scheme" in capsys.readouterr().err
    with pytest.raises(EndpointError):
        ChatbridgeClient()
    assert ChatbridgeClient("http://127.0.0.1:3000/").endpoint == "http://127.0.0.1:3000"
