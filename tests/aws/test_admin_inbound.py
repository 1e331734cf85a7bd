"""The admin API refuses a spec whose receipts, edits, reactions or operator sections could never work: 422
naming the field, nothing stored; a REST API's response_message_id likewise."""

import pytest

from support.aws import api_event, call
from support.pipeline import load_handler

admin_app = load_handler("admin")
SPEC = {"identifier": "inbound-admin", "name": "Inbound", "messages": "messages", "chat_id": "chat",
        "message_id": "id", "text": [{"body": "{{msg.text}}"}]}


def put(path, body, **params):
    return call(admin_app, api_event("PUT", path, body=body, path_parameters=params))


@pytest.mark.parametrize("change, field, reason", [
    ({"receipts": [{"status": "s", "status_map": {"x": "read"}}]}, "receipts.0", "give message_id"),
    ({"receipts": {"message_id": "id", "status": "s", "status_map": {"x": "seen"}}}, "receipts.0.status_map.x", ""),
    ({"edits": {"conditions": "", "body": "{{msg.text}}"}}, "edits.conditions", "needs conditions"),
    ({"reactions": {"conditions": "type=r", "message_id": "of", "reaction": "$.x["}}, "reactions.reaction", ""),
    ({"operator": "fromMe==true"}, "operator", "fromMe==true"),
    ({"unsupported": "drop"}, "unsupported", ""),
    # a rule across fields is reported on the body, its reason naming the field
    ({"message_id_scope": "chat", "receipts": {"message_id": "id", "state": "read"}}, "body", "receipts.0: with"),
])
def test_a_section_that_could_never_work_is_422_naming_the_field_and_stores_nothing(aws_stack, change, field, reason):
    status, body = put("/admin/incoming-webhooks/inbound-admin", {**SPEC, **change}, identifier="inbound-admin")
    assert status == 422, body
    [error] = body["errors"]
    assert error["field"].startswith(field) and reason in error["reason"], error
    assert call(admin_app, api_event("GET", "/admin/incoming-webhooks/inbound-admin",
                                     path_parameters={"identifier": "inbound-admin"}))[0] == 404


def test_a_rest_api_response_message_id_that_is_no_location_is_422(aws_stack):
    status, body = put("/admin/rest-apis/send", {"url": "https://api.example.com/send",
                                                 "response_message_id": "$.messages["}, rest_api_id="send")
    assert status == 422 and body["errors"][0]["field"].startswith("response_message_id"), body
