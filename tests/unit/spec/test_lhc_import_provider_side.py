"""``import-lhc`` carries LHC's operator messages (``msg_cond_op*``) and ``msg_delivery_*`` sections over."""

from chatbridge.spec.lhc_import import convert
from chatbridge.spec.model import IncomingWebhookSpec

BASE = {"chat_id": "from", "message_id": "id", "msg_cond": "type=chat", "msg_body": "{{msg.body}}"}


def converted(**configuration):
    result = convert({**BASE, **configuration}, identifier="lhc-import")
    IncomingWebhookSpec.model_validate(result.spec)
    return result


def beyond_comparison(warnings):
    """The warnings other than where PHP's loose == compares differently (tests/unit/spec/test_lhc_import_semantics.py)."""
    return [warning for warning in warnings if "loose ==" not in warning]


def test_operator_condition_receipts_edits_and_reactions_come_along():
    result = converted(msg_cond_op="fromMe=true", messages="data",
                       msg_delivery_delivered_id="id", msg_delivery_delivered_condition="ack=2",
                       msg_delivery_read_id="id", msg_delivery_read_condition="ack=3", msg_delivery_read_chat_id="to",
                       msg_delivery_rejected_id="id", msg_delivery_rejected_condition="ack=-1",
                       msg_delivery_edited_id="edit.id", msg_delivery_edited_condition="type=edit",
                       msg_delivery_edited_location="edit.text",
                       msg_delivery_reaction_id="reaction.id", msg_delivery_reaction_condition="type=reaction",
                       msg_delivery_reaction_location="reaction.emoji")
    spec = result.spec
    assert spec["operator"] == "fromMe=true"
    assert spec["receipts"] == [
        {"items": "data", "conditions": "ack=2", "message_id": "id", "state": "delivered"},
        {"items": "data", "conditions": "ack=3", "message_id": "id", "state": "read"},
        {"items": "data", "conditions": "ack=-1", "message_id": "id", "state": "failed"}]
    assert spec["edits"] == {"conditions": "type=edit", "message_id": "edit.id", "body": "{{msg.edit.text}}"}
    assert spec["reactions"] == {"conditions": "type=reaction", "message_id": "reaction.id",
                                 "reaction": "reaction.emoji"}
    assert beyond_comparison(result.warnings) == []


def test_operator_conditions_per_kind_become_one_with_a_warning_and_differing_ones_are_not_guessed():
    same = converted(msg_cond_op="fromMe=true", msg_cond_op_2="fromMe=true", msg_cond_2="type=location",
                     msg_body_2="{{msg.loc}}")
    assert same.spec["operator"] == "fromMe=true"
    assert beyond_comparison(same.warnings) == ["msg_cond_op, msg_cond_op_2: chatbridge tests one operator condition on every message, "
                             "not per kind as LHC does"]
    different = converted(msg_cond_op="fromMe=true", msg_cond_img_op="self=out", msg_cond_img="type=image",
                          msg_img="{{msg.caption}}")
    assert "operator" not in different.spec
    assert any("operator conditions differ" in warning for warning in different.warnings)
    assert any(warning.startswith("msg_cond_op:") for warning in different.warnings)  # still named, not dropped


def test_delivery_sections_chatbridge_has_no_equal_for_stay_warnings():
    result = converted(msg_delivery_deleted_id="id", msg_delivery_deleted_condition="type=revoked",
                       msg_delivery_un_reaction_id="id", msg_delivery_un_reaction_condition="type=unreact")
    assert "receipts" not in result.spec and len(result.warnings) == 4
