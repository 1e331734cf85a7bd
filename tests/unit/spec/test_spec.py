"""IncomingWebhookSpec: validation names the field and the clause; compiled forms are ready to map."""

import json

import pytest
from pydantic import ValidationError

from chatbridge.spec.model import IncomingWebhookSpec

MINIMAL = {"identifier": "shop-1", "name": "Shop", "chat_id": "from", "text": [{"body": "{{msg.body}}"}]}


def spec(**changes):
    return IncomingWebhookSpec.model_validate({**MINIMAL, **changes})


def error_of(**changes):
    with pytest.raises(ValidationError) as raised:
        spec(**changes)
    return str(raised.value)


def test_minimal_spec_gets_lhc_defaults():
    minimal = spec()
    assert (minimal.enabled, minimal.messages, minimal.on_closed_chat, minimal.reset_operator,
            minimal.log_requests, minimal.nick_combine, minimal.attributes) == \
        (True, "", "new_chat", False, False, "first", {})


def test_json_text_and_dicts_both_validate():
    assert IncomingWebhookSpec.model_validate_json(json.dumps(MINIMAL)) == spec()


@pytest.mark.parametrize("identifier", ["abc", "a" * 65, "has space", "slash/no", "ünï"])
def test_identifier_must_be_4_to_64_url_safe_characters(identifier):
    assert "identifier" in error_of(identifier=identifier)


def test_identifier_accepts_letters_digits_dash_underscore():
    assert spec(identifier="Ab_9-" + "x" * 59).identifier.endswith("x")


def test_chat_id_and_a_message_kind_are_required():
    assert "chat_id" in error_of(chat_id="")
    assert "at least one message kind" in error_of(text=[])
    assert spec(text=[], image={"body": "{{msg.url}}"}).compiled.kinds[0].kind == "image"


def test_malformed_clauses_are_refused_naming_field_and_clause():
    message = error_of(conditions="type=chat||fromMe")
    assert "conditions" in message and "clause 2 'fromMe' has no '='" in message
    message = error_of(text=[{"body": "x"}, {"conditions": "type", "body": "y"}])
    assert "text.1.conditions" in message and "'type'" in message
    assert "nick" in error_of(nick="a..b")
    assert "text.0.body" in error_of(text=[{"body": "{{msg.body}} {{nope}}"}])
    assert "image.body" in error_of(image={"body": "{{msg.a..b}}"})


def test_templates_may_only_name_defined_attributes():
    assert "text[0].body: placeholder '{{attributes.shop}}': no attribute 'shop'" in \
        error_of(text=[{"body": "{{attributes.shop}}"}])
    ok = spec(text=[{"body": "{{attributes.shop}}"}], attributes={"shop": "Acme"})
    assert ok.compiled.kinds[0].body.render({}) == "Acme"


def test_unknown_fields_are_refused_so_typos_do_not_pass_silently():
    assert "nik" in error_of(nik="sender.name")


def test_on_closed_chat_takes_the_three_documented_choices():
    for choice in ("new_chat", "pending", "active"):
        assert spec(on_closed_chat=choice).on_closed_chat == choice
    assert "on_closed_chat" in error_of(on_closed_chat="reopen")


def test_a_single_text_kind_may_be_written_as_an_object():
    assert spec(text={"conditions": "type=chat", "body": "{{msg.body}}"}).text[0].conditions == "type=chat"


def test_kinds_are_tried_in_lhc_order_attachment_image_then_text():
    full = spec(text=[{"conditions": "type=chat", "body": "a"}, {"body": "b"}],
                image={"conditions": "type=image", "body": "c"}, attachment={"conditions": "type=doc", "body": "d"})
    assert [k.name for k in full.compiled.kinds] == ["attachment", "image", "text[0]", "text[1]"]


def test_spec_is_immutable_and_copies_keep_their_compiled_form():
    original = spec()
    with pytest.raises(ValidationError):
        original.chat_id = "to"
    saved = original.model_copy(update={"id": 3})
    assert saved.id == 3 and saved.compiled is original.compiled


def test_dump_round_trips_without_compiled_internals():
    full = spec(nick="a|||b", nick_combine="join", attributes={"k": 1}, chat_id_template="{chat_id}@c.us")
    dumped = full.model_dump(mode="json")
    assert "_compiled" not in dumped and "compiled" not in dumped
    assert IncomingWebhookSpec.model_validate(dumped) == full


def test_a_spec_built_without_validation_compiles_on_first_use():
    unvalidated = IncomingWebhookSpec.model_construct(**{**MINIMAL, "text": [{"body": "{{msg.body}}"}]})
    assert [k.name for k in unvalidated.compiled.kinds] == ["text[0]"]
