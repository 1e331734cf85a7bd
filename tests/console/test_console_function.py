"""ConsoleFunction: the console's files on the API's own origin, nothing else, and how the page signs in."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chatbridge.local.cfn import load_yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def console_app():
    spec = importlib.util.spec_from_file_location("console_function_app", ROOT / "functions/console/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _get(app, path, proxy=None):
    return app.lambda_handler({"httpMethod": "GET", "path": path,
                               "pathParameters": {"proxy": proxy} if proxy is not None else None}, None)


def test_console_without_a_slash_redirects_relatively_so_a_stage_prefix_survives(console_app):
    answer = _get(console_app, "/console")
    assert answer["statusCode"] == 301 and answer["headers"]["Location"] == "console/"


def test_console_root_is_the_page_and_modules_come_with_their_types(console_app):
    page = _get(console_app, "/console/")
    assert page["statusCode"] == 200 and page["headers"]["Content-Type"].startswith("text/html")
    assert 'src="app.js"' in page["body"]
    script = _get(console_app, "/console/views/chats.js", "views/chats.js")
    assert script["headers"]["Content-Type"].startswith("text/javascript")
    assert "script-src 'self'" in script["headers"]["Content-Security-Policy"]
    assert script["headers"]["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("proxy", ["../functions/console/app.py", "views/../../README.md", "%2e%2e/x",
                                   ".hidden", "vendor/", "nope.js", "views/chats.js\0.css", "..\\app.py"])
def test_nothing_outside_the_console_folder_or_unknown_is_served(console_app, proxy):
    answer = _get(console_app, f"/console/{proxy}", proxy)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["status"] == "not_found"


def test_only_get_is_answered(console_app):
    answer = console_app.lambda_handler({"httpMethod": "POST", "path": "/console/", "pathParameters": None}, None)
    assert answer["statusCode"] == 404


def test_on_the_local_stack_the_page_is_told_there_is_no_login(console_app, monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_LOCAL_URL", "http://127.0.0.1:3000")
    answer = _get(console_app, "/console/config.json", "config.json")
    assert json.loads(answer["body"]) == {"auth": "none", "local": True}


def test_on_aws_the_page_gets_the_cognito_ids_from_the_parameter_the_template_writes(console_app, monkeypatch):
    from chatbridge.repository import console_config

    monkeypatch.delenv("CHATBRIDGE_LOCAL_URL", raising=False)
    monkeypatch.setenv("CONSOLE_CONFIG_PARAMETER", "/chatbridge-console/stack/config")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # Lambda sets it; the pools live in the stack's region
    console_config._ssm.cache_clear()
    console_config._cache.clear()
    settings = {"region": "eu-west-1", "user_pool_id": "eu-west-1_abc", "client_id": "client",
                "identity_pool_id": "eu-west-1:pool", "login_domain": "https://x.auth.eu-west-1.amazoncognito.com",
                "provider_name": "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"}
    with mock_aws():
        boto3.client("ssm").put_parameter(Name="/chatbridge-console/stack/config", Type="String",
                                          Value=json.dumps(settings))
        answer = _get(console_app, "/console/config.json", "config.json")
    console_config._ssm.cache_clear()
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"auth": "cognito", **settings}
    assert "cognito-identity.eu-west-1.amazonaws.com" in answer["headers"]["Content-Security-Policy"]


def test_a_missing_sign_in_parameter_is_a_503_with_a_reason_not_a_crash(console_app, monkeypatch):
    from chatbridge.repository import console_config

    monkeypatch.delenv("CHATBRIDGE_LOCAL_URL", raising=False)
    monkeypatch.setenv("CONSOLE_CONFIG_PARAMETER", "/chatbridge-console/none/config")
    console_config._ssm.cache_clear()
    console_config._cache.clear()
    with mock_aws():
        answer = _get(console_app, "/console/config.json", "config.json")
    console_config._ssm.cache_clear()
    assert answer["statusCode"] == 503 and "unavailable" in answer["body"]


def test_sam_build_ships_the_console_files_because_the_function_folder_links_to_them():
    """sam build copies a function's CodeUri with aws-lambda-builders' copytree, which follows links."""
    template = load_yaml(ROOT / "template.yaml")
    code_uri = template["Resources"]["ConsoleFunction"]["Properties"]["CodeUri"]
    site = ROOT / code_uri / "site"
    assert site.is_symlink() and site.resolve() == (ROOT / "console").resolve()
    assert (site / "index.html").is_file() and (site / "app.js").is_file()


def test_console_routes_are_public_and_admin_stays_iam_with_cognito_operators_allowed_only_admin():
    template = load_yaml(ROOT / "template.yaml")
    resources = template["Resources"]
    events = resources["ConsoleFunction"]["Properties"]["Events"]
    assert {(e["Properties"]["Path"], e["Properties"]["Method"]) for e in events.values()} == {
        ("/console", "get"), ("/console/{proxy+}", "get")}
    assert all(e["Properties"]["Auth"] == {"Authorizer": "NONE"} for e in events.values())
    client = resources["ConsoleUserPoolClient"]["Properties"]
    assert client["AllowedOAuthFlows"] == ["code"] and client["GenerateSecret"] is False
    assert resources["ConsoleIdentityPool"]["Properties"]["AllowUnauthenticatedIdentities"] is False
    statement = resources["ConsoleOperatorRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statement] == ["execute-api:Invoke"]
    assert statement[0]["Resource"]["Fn::Sub"].endswith("/Prod/*/admin/*")


@pytest.mark.parametrize("name", ["aws4fetch", "js-yaml"])
def test_each_vendored_file_is_the_upstream_file_its_header_names(name):
    vendored = (ROOT / f"console/vendor/{name}.js").read_text(encoding="utf-8")
    header, digest_line, body = vendored.split("\n", 2)
    assert re.match(rf"// {name} \d+\.\d+\.\d+ ", header)
    digest = digest_line.rsplit(" ", 1)[1]
    assert hashlib.sha256(body.encode("utf-8")).hexdigest() == digest
    assert "make vendor" in header
