"""The location language: dotted paths, split steps, alternatives, $root and JSONPath."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.core import MISSING, value_text
from chatbridge.lang.locations import compile_location

MESSAGE = {
    "from": "447700900000@c.us",
    "sender": {"name": "Aisha", "pushname": ""},
    "entry": [{"changes": [{"value": {"id": 7}}]}],
    "photo": [{"id": "small"}, {"id": "large"}],
    "big": 4987381189870374000,
    "flag": True,
    "nothing": None,
}


def first(source, message=MESSAGE, root=None):
    return compile_location(source).first(message, root)


def test_dotted_paths_reach_any_depth_and_index_lists():
    assert first("sender.name") == "Aisha"
    assert first("entry.0.changes.0.value.id") == 7
    assert first("photo.-1.id") == "large"


def test_missing_paths_yield_missing_not_an_error():
    assert first("sender.nope") is MISSING
    assert first("photo.5.id") is MISSING
    assert first("from.deeper") is MISSING
    assert first("photo.name") is MISSING
    assert first("nothing") is None


def test_split_step_takes_an_element_or_the_last():
    assert first("from||@||0") == "447700900000"
    assert first("from||@||last") == "c.us"
    assert first("from||@||0||7||2") == "00900000"


def test_split_index_out_of_range_keeps_the_whole_value_as_lhc_does():
    assert first("from||@||5") == "447700900000@c.us"
    assert first("from||#||1") == "447700900000@c.us"


def test_split_of_a_number_uses_its_exact_text():
    assert first("big||7||0") == "498"
    assert first("big||@||0") == "4987381189870374000"


def test_alternatives_take_the_first_non_empty():
    assert first("sender.pushname|||sender.name") == "Aisha"
    assert first("nope|||nothing|||from||@||0") == "447700900000"
    assert first("nope|||other") is MISSING


def test_joined_concatenates_found_parts_with_a_space_as_lhc_does_for_nick():
    location = compile_location("sender.name|||nope|||from||@||0")
    assert location.joined(MESSAGE) == "Aisha 447700900000"


def test_root_prefix_reads_from_the_payload_root():
    root = {"contacts": [{"profile": {"name": "Kerry"}}], "messages": [MESSAGE]}
    assert first("$root.contacts.0.profile.name", MESSAGE, root) == "Kerry"
    assert first("$root", MESSAGE, root) is root


def test_jsonpath_is_evaluated_on_the_message():
    assert first("$.photo[-1:].id") == "large"
    assert first("$.photo[*].id") == ["small", "large"]
    assert first("$.entry[0].changes[0].value.id") == 7
    assert first("$.nope") is MISSING
    assert first("$.photo[?(@.id == 'small')].id") == "small"


def test_locations_are_compiled_once_and_shared():
    assert compile_location("a.b||x||0") is compile_location("a.b||x||0")
    assert compile_location("") is None and compile_location("  ") is None


@pytest.mark.parametrize("source, fragment", [
    ("a..b", "empty path part"),
    ("a||@", "separator and an index"),
    ("a||@||x", "must be a number"),
    ("a||||0", "stray '|'"),
    ("a|| ||", "must be a number"),
    ("$.[[", "JSONPath"),
    ("a||| ", "empty path"),
])
def test_malformed_locations_are_refused_with_the_reason(source, fragment):
    with pytest.raises(SpecSyntaxError, match="location") as raised:
        compile_location(source)
    assert fragment in str(raised.value)


def test_value_text_follows_lhc_rules():
    assert [value_text(v) for v in (None, MISSING, True, False, 12, 1.5, "é", [1, {"a": None}])] == \
        ["", "", "1", "", "12", "1.5", "é", '[1,{"a":null}]']


@settings(deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_s_text_is_what_the_json_encoder_writes(value):
    assert value_text(value) == json.dumps(value, separators=(",", ":"))


def test_decimals_read_back_from_dynamodb_render_as_numbers():
    from decimal import Decimal

    assert [value_text(v) for v in (Decimal("4987381189870374000"), Decimal("1.5"), [Decimal("2")])] == \
        ["4987381189870374000", "1.5", "[2]"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20)


@settings(deadline=None)
@given(json_values, st.sampled_from(["a", "a.0.b", "0", "a||@||0", "a||,||last||x||2", "a|||b.-1", "$root.a",
                                     "$.a[*]", "$..b"]))
def test_split_and_index_never_raise_on_any_json(value, source):
    location = compile_location(source)
    location.first(value, value)
    assert isinstance(location.joined(value, value), str)
    assert isinstance(value_text(location.first({"a": value, "b": value}, value)), str)


CONTACTS = {"contacts": [{"type": "email", "value": "a@example.com"}, {"type": "phone", "value": "+4477"},
                         {"type": "phone", "value": "+4478", "primary": 1.0}, {"id": None}],
            "photo": [{"file_id": "s"}, {"file_id": "l"}], "sizes": {"a": 1, "b": 2}, "empty": [],
            "data": '{"id": "from-text", "n": [1, 2]}', "broken": "{not json", "n": 3}


def test_list_filter_picks_the_item_whose_key_equals_the_value_the_last_one_as_lhc():
    assert first("contacts.[type=email].value", CONTACTS) == "a@example.com"
    assert first("contacts.[type=phone].value", CONTACTS) == "+4478"  # LHC's loop keeps the last match
    assert first("contacts.[primary=1].value", CONTACTS) == "+4478"  # compared as conditions compare
    assert first("contacts.[primary=__EXIST__].value", CONTACTS) == "+4478"
    assert first("contacts.[id=__EXIST__]", CONTACTS) is MISSING  # null does not count, as PHP's isset
    assert first("contacts.[type=fax].value", CONTACTS) is MISSING
    assert first("sizes.[x=1]", CONTACTS) is MISSING and first("n.[x=1]", CONTACTS) is MISSING
    assert first("contacts.[type=email].value||@||1|||n", CONTACTS) == "example.com"
    assert first("by_id.[t=y].n", {"by_id": {"a": {"t": "x", "n": 1}, "b": {"t": "y", "n": 2}}}) == 2  # object values


def test_array_pop_takes_the_last_item_and_json_text_reads_a_string_as_json():
    assert first("photo___array_pop.file_id", CONTACTS) == "l"
    assert first("sizes___array_pop", CONTACTS) == 2
    assert first("empty___array_pop", CONTACTS) is None
    assert first("n___array_pop", CONTACTS) is MISSING
    assert first("data___json_text.n.1", CONTACTS) == 2
    assert first("broken___json_text", CONTACTS) is None and first("n___json_text", CONTACTS) is MISSING
    assert first("$root.data___json_text.id", {}, root=CONTACTS) == "from-text"
    assert first("photo___other", {"photo___other": "literal"}) == "literal"  # not a helper: a key


@pytest.mark.parametrize("source, fragment", [
    ("contacts.[type=phone.value", "character 10: '[type=phone' is not a list filter"),
    ("contacts.[type].value", "character 10: list filter '[type]' needs key=value"),
    ("a.[=x]", "character 3: list filter '[=x]' needs key=value"),
    ("photo[0].id", "character 1: 'photo[0]' is not a list filter"),
    ("a.b^implode==, ", "character 4: Live Helper Chat's '^' output modifiers"),
    ("x|||a.___array_pop", "character 7: '___array_pop' names no key"),
])
def test_malformed_path_helpers_are_refused_with_their_position(source, fragment):
    with pytest.raises(SpecSyntaxError) as raised:
        compile_location(source)
    assert fragment in str(raised.value)
