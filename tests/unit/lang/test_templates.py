"""The template language of message bodies."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.templates import compile_template

MESSAGE = {"body": "Hi", "caption": None, "fromMe": False, "isMedia": True, "n": 4987381189870374000,
           "lat": 51.5074, "sender": {"pushname": "Aisha", "tags": ["a", "b"]}, "from": "4477@c.us",
           "text": {"body": "deep"}}


def render(source, message=MESSAGE, attributes=None, root=None):
    return compile_template(source, attributes).render(message, root)


def test_placeholders_at_any_depth_and_several_per_body():
    assert render("{{msg.sender.pushname}} says {{msg.text.body}} ({{msg.body}})") == "Aisha says deep (Hi)"


def test_lhc_value_rules():
    assert render("[{{msg.caption}}][{{msg.missing}}][{{msg.fromMe}}][{{msg.isMedia}}]") == "[][][][1]"
    assert render("{{msg.n}} {{msg.lat}}") == "4987381189870374000 51.5074"
    assert render("{{msg.sender}}") == '{"pushname":"Aisha","tags":["a","b"]}'
    assert render("{{msg.sender.tags}}") == '["a","b"]'


def test_split_steps_and_alternatives_inside_placeholders():
    assert render("{{msg.from||@||0}}") == "4477"
    assert render("{{msg.caption|||body}}") == "Hi"
    assert render("{{ msg.body }}") == "Hi"


def test_whole_message_and_root_placeholders():
    assert json.loads(render("{{msg}}")) == MESSAGE
    assert render("{{msg.$root.id}}", MESSAGE, root={"id": "r1"}) == "r1"


def test_attributes_render_into_the_text():
    attributes = {"shop": "Acme", "tenant": 12, "vip": True}
    assert render("{{attributes.shop}}#{{attributes.tenant}}:{{attributes.vip}}", attributes=attributes) == \
        "Acme#12:1"


def test_literal_text_is_kept_byte_exact():
    body = "שלום 👋🏽\r\n\ttab {x} { {msg.body} } $1 \\n \u200f"
    assert render(body + "{{msg.body}}" + body) == body + "Hi" + body
    assert render("{{ not closed") == "{{ not closed"
    assert render("") == ""


@pytest.mark.parametrize("source, fragment", [
    ("{{foo}}", "unknown placeholder '{{foo}}'"),
    ("{{args.chat.id}}", "unknown placeholder"),
    ("{{msg.}}", "names no path"),
    ("{{msg.a..b}}", "empty path part"),
    ("{{attributes.nope}}", "no attribute 'nope'"),
])
def test_bad_placeholders_are_refused_with_the_placeholder_named(source, fragment):
    with pytest.raises(SpecSyntaxError) as raised:
        compile_template(source, {"known": "x"})
    assert fragment in str(raised.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=25)

TEMPLATE = compile_template("x {{msg.a}} {{msg.a.b}} {{msg.0}} {{msg.a||,||1}} {{msg.b|||a.-1}} {{msg}} "
                            "{{msg.$root.a}} {{msg.$..b}} 👋")


@settings(deadline=None)
@given(json_values)
def test_rendering_never_raises_on_any_json(value):
    assert isinstance(TEMPLATE.render(value, value), str)
    assert TEMPLATE.render({"a": value, "b": value}, value).endswith(" 👋")


@settings(deadline=None)
@given(st.text())
def test_any_text_without_braces_renders_as_itself(text):
    text = text.replace("{", "").replace("}", "")
    assert render(text) == text


def test_a_placeholder_never_spans_another_opening_as_in_lhc():
    # Live Helper Chat renders the unclosed first part as text: chatbridge used to read one placeholder
    # from the first {{ to the last }} and refuse the body
    assert render("{{msg.body} and {{msg.body}}") == "{{msg.body} and Hi"
    assert render("{{{msg.body}}}") == "{Hi}"
    assert render("{{msg.a}b}} {{msg.body}}") == "{{msg.a}b}} Hi"


def test_a_body_with_more_placeholders_than_are_written_out_renders_the_same_way():
    from chatbridge.lang.templates import MAX_INLINED_PLACEHOLDERS

    pieces = ["{{msg.sender.pushname}}", "{{msg.lat}}", "{{msg.caption|||body}}", "{{msg.missing}}", "{{msg}}"]
    many = [pieces[i % len(pieces)] for i in range(MAX_INLINED_PLACEHOLDERS + 1)]
    assert render(" ".join(many)) == " ".join(render(piece) for piece in many)
    assert render(" ".join(many[:3])) == " ".join(render(piece) for piece in many[:3])
