"""``/admin/secrets``: SSM SecureStrings under /chatbridge/ written, listed and deleted through the real admin
handler on moto. Values go in and never come out; bad names and values are 4xx with a reason, never 503."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from support.aws import api_event, call
from support.pipeline import load_handler

admin_app = load_handler("admin")
VALUE = "tok-3f9c-very-secret"
NAME = "/chatbridge/telegram-bot/token"


def admin(method, path, body=None):
    """As API Gateway sends it: the ``{name+}`` route gives the name without its leading slash."""
    name = path.partition("/admin/secrets/")[2]
    resource = "/admin/secrets/{name+}" if name else path
    return call(admin_app, api_event(method, path, body=body, resource=resource,
                                     path_parameters={"name": name} if name else None))


def put(name=NAME, value=VALUE):
    return admin("PUT", "/admin/secrets" + name, body={"value": value})


def test_put_stores_a_securestring_and_answers_name_and_version_never_the_value(aws_stack):
    status, body = put()
    assert (status, body) == (201, {"status": "stored", "name": NAME, "version": 1})
    status, body = put(value=VALUE + "-2")
    assert (status, body["version"]) == (200, 2) and VALUE not in json.dumps(body)
    stored = boto3.client("ssm").get_parameter(Name=NAME, WithDecryption=True)["Parameter"]
    assert (stored["Type"], stored["Value"]) == ("SecureString", VALUE + "-2")


def test_list_names_versions_and_dates_but_no_value(aws_stack):
    put()
    put("/chatbridge/wa/token", "other-" + VALUE)
    boto3.client("ssm").put_parameter(Name="/elsewhere/x", Value="not-ours", Type="SecureString")
    status, body = admin("GET", "/admin/secrets")
    assert status == 200
    assert [entry["name"] for entry in body["secrets"]] == [NAME, "/chatbridge/wa/token"]
    assert all(entry["version"] == 1 and entry["last_modified"] for entry in body["secrets"])
    text = json.dumps(body)
    assert VALUE not in text and "not-ours" not in text and "kms:" not in text and '"value"' not in text


def test_delete_removes_the_secret_and_a_second_delete_is_404(aws_stack):
    put()
    assert admin("DELETE", "/admin/secrets" + NAME) == (200, {"status": "deleted", "name": NAME})
    status, body = admin("DELETE", "/admin/secrets" + NAME)
    assert status == 404 and NAME in body["reason"]
    assert admin("GET", "/admin/secrets")[1]["secrets"] == []


@pytest.mark.parametrize("name,reason", [
    ("/other/token", "must be /chatbridge/<name>"),
    ("/chatbridge/", "must be /chatbridge/<name>"),
    ("/chatbridge/bot token", "must be /chatbridge/<name>"),
    ("/chatbridge/a//b", "empty path level"),
    ("/chatbridge/a/", "empty path level"),
    ("/chatbridge/" + "/".join("abcdefghijklmno"), "15 levels"),
    ("/chatbridge/" + "x" * 1000, "1011 characters"),
])
def test_a_bad_name_is_400_with_a_reason_and_stores_nothing(aws_stack, name, reason):
    status, body = put(name)
    assert status == 400 and reason in body["reason"], body
    assert admin("DELETE", "/admin/secrets" + name)[0] == 400
    assert boto3.client("ssm").describe_parameters()["Parameters"] == []


@pytest.mark.parametrize("body,status,reason", [
    ({"value": ""}, 422, "at least 1 character"),
    ({"value": "  \n"}, 422, "cannot be blank"),
    ({"value": "é" * 2049}, 422, "at most 4096 bytes"),
    ({}, 422, "value: Field required"),
    ({"value": "x", "type": "String"}, 422, "type: Extra inputs"),
    ({"value": 5}, 422, "value: Input should be a valid string"),
    (["x"], 400, "must be a JSON object"),
    ("{nope", 400, ""),
])
def test_an_empty_oversized_or_malformed_value_is_4xx_with_a_reason(aws_stack, body, status, reason):
    answer_status, answer = admin("PUT", "/admin/secrets" + NAME, body=body)
    assert answer_status == status and reason in answer["reason"], answer
    assert admin("GET", "/admin/secrets")[1]["secrets"] == []


def test_a_value_of_exactly_4096_bytes_is_stored(aws_stack):
    assert put(value="é" * 2048)[0] == 201


def test_put_and_delete_drop_this_process_s_cached_value(aws_stack):
    from chatbridge.repository import secrets

    put()
    assert secrets.resolve_secrets([NAME]) == {NAME: VALUE}
    put(value="rotated")
    assert secrets.resolve_secrets([NAME]) == {NAME: "rotated"}
    admin("DELETE", "/admin/secrets" + NAME)
    with pytest.raises(secrets.SecretNotFound):
        secrets.resolve_secrets([NAME])


def test_ssm_refusing_a_name_is_400_not_a_503(aws_stack, monkeypatch):
    from chatbridge.repository import secrets

    def refuse(**_):
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "bad name"}}, "PutParameter")

    monkeypatch.setattr(secrets._ssm(), "put_parameter", refuse)
    status, body = put()
    assert status == 400 and "SSM refused /chatbridge/telegram-bot/token: bad name" in body["reason"]


def test_the_value_never_reaches_the_admin_function_s_log(aws_stack, capsys, caplog):
    caplog.set_level("INFO")  # what the functions log (botocore's DEBUG wire dumps are never on in Lambda)
    put()
    admin("GET", "/admin/secrets")
    admin("DELETE", "/admin/secrets" + NAME)
    captured = capsys.readouterr()
    assert VALUE not in captured.out + captured.err + caplog.text
