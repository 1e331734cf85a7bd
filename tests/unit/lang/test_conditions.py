"""The condition language: clauses, value lists, negation, __exists__, JSON text comparison."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.conditions import compile_condition

MESSAGE = {"type": "chat", "fromMe": False, "ack": 12, "ratio": 1.5, "nothing": None, "caption": "",
           "sender": {"name": "Aisha"}, "message": {"is_echo": True}, "voice": {"id": "v"}}


def holds(source, message=MESSAGE, root=None):
    return compile_condition(source).holds(message, root)


def test_all_clauses_must_hold_and_any_listed_value_matches():
    assert holds("type=chat,image||fromMe=false")
    assert holds("type=image, chat")
    assert not holds("type=chat||fromMe=true")
    assert not holds("type=image,location")


def test_booleans_numbers_and_null_compare_by_their_json_text():
    assert holds("fromMe=false") and not holds("fromMe=0") and not holds("fromMe=")
    assert holds("ack=12") and not holds("ack=13")
    assert holds("ratio=1.5")
    assert holds("nothing=null")
    assert holds("caption=")


def test_json_numbers_also_compare_by_value_as_in_lhc():
    # LHC's PHP == compares numbers as numbers: ack=1 holds for 1.0; text stays text ("1.0" is not 1)
    assert holds("ack=12.0") and holds("ack=1.2e1") and holds("ack=11,12.00") and not holds("ack!=12.0")
    assert holds("ack=1", {"ack": 1.0}) and holds("ratio=1.50") and not holds("ratio=1.4")
    assert not holds("ack=1", {"ack": "1.0"}) and not holds("ack=1", {"ack": True})
    assert holds("n=0.1", {"n": 0.1}) and not holds("n=0.1", {"n": 0.1 + 0.2 - 0.2 + 1e-9})


def test_negation_holds_for_other_values_and_for_absent_attributes():
    assert holds("type!=image,location")
    assert not holds("type!=chat")
    assert holds("missing!=anything")
    assert holds("message.is_echo!=false") and not holds("message.is_echo!=true")


def test_a_clause_on_an_absent_attribute_fails():
    assert not holds("missing=chat")
    assert not holds("sender.nope=Aisha")


def test_exists_holds_when_present_even_as_null():
    assert holds("type=__exists__") and holds("nothing=__exists__")
    assert not holds("missing=__exists__")
    assert holds("missing!=__exists__") and not holds("type!=__exists__")


def test_alternatives_on_the_left_test_the_first_non_empty():
    assert holds("document|||voice|||sticker=__exists__")
    assert not holds("document|||sticker=__exists__")


def test_dotted_and_root_paths_on_the_left():
    assert holds("sender.name=Aisha")
    assert holds("$root.object=page", MESSAGE, {"object": "page"})
    assert not holds("$root.object=page", MESSAGE, {"object": "user"})


def test_empty_condition_always_holds():
    assert holds("") and holds("   ")


def test_first_failure_names_the_clause_that_did_not_hold():
    failed = compile_condition("type=chat||fromMe=true||ack=12").first_failure(MESSAGE)
    assert failed.source == "fromMe=true"
    assert compile_condition("type=chat").first_failure(MESSAGE) is None


@pytest.mark.parametrize("source, fragment", [
    ("type", "clause 1 'type' has no '='"),
    ("type=chat||fromMe", "clause 2 'fromMe' has no '='"),
    ("type=chat||", "clause 2 is empty"),
    ("||type=chat", "clause 1 is empty"),
    ("=chat", "names no attribute"),
    ("a=__exists__,b", "__exists__ cannot be listed"),
    ("a=1||||b=2", "stray '|'"),
    ("a..b=1", "empty path part"),
])
def test_malformed_conditions_are_refused_naming_the_clause(source, fragment):
    with pytest.raises(SpecSyntaxError) as raised:
        compile_condition(source)
    assert fragment in str(raised.value)


@pytest.mark.parametrize("source, fragment", [
    ("type==chat", "clause 1 'type==chat': '==' is not an operator (write type=chat)"),
    ("fromMe=false||type!==image", "clause 2 'type!==image': '!==' is not an operator (write type!=image)"),
    ("type = = chat", "'==' is not an operator (write type=chat)"),
    ("type=chat,==image", "'==' is not an operator (write type=chat,image)"),
    ("type=>chat", "clause 1 'type=>chat': comparisons are not supported"),
    ("ack>=2", "clause 1 'ack>=2': comparisons are not supported"),
    ("ack<=2", "comparisons are not supported"),
    ("ack=<2", "comparisons are not supported"),
    ("type ! = chat", "clause 1 'type ! = chat': a stray '!' before '=' (write type!=chat)"),
    ("type!!=chat", "a stray '!' before '=' (write type!=chat)"),
    ('type="chat"', "compared without quotes (write type=chat)"),
    ("type='chat','image'", "compared without quotes (write type=chat,image)"),
    ("photo=__exist__", "clause 1 'photo=__exist__': unknown keyword '__exist__' (the only one is __exists__)"),
    ("photo!=__EXISTS__", "unknown keyword '__EXISTS__'"),
])
def test_clauses_that_parse_but_could_never_match_what_was_meant_are_refused(source, fragment):
    """Each of these used to be saved and then match nothing, so every payload was silently ignored."""
    with pytest.raises(SpecSyntaxError) as raised:
        compile_condition(source)
    assert fragment in str(raised.value)


def test_clauses_that_look_odd_but_mean_something_are_kept():
    """Spaces around the operator are trimmed, ``attr=`` tests the empty string as in Live Helper Chat, and
    an ``=`` inside or at the end of a value (base64 padding) is part of the value."""
    assert holds("type = chat") and holds(" type != image , location ")
    assert holds("caption=") and not holds("type=") and holds("type!=")
    assert holds("token=abc==", {"token": "abc=="}) and holds("pair=a=b", {"pair": "a=b"})
    assert holds('quote=say "hi"', {"quote": 'say "hi"'}) and holds("x=\"", {"x": '"'})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20)


@settings(deadline=None)
@given(json_values, st.sampled_from(["a=1", "a.b!=x,y", "a=__exists__", "a.0|||b=null||b!=__exists__",
                                     "$root.a=true", "$.a[*]=1"]))
def test_conditions_never_raise_on_any_json(value, source):
    condition = compile_condition(source)
    assert condition.holds(value, value) in (True, False)
    assert condition.holds({"a": value, "b": value}, value) in (True, False)


def test_path_helpers_on_the_left_keep_their_own_equals_sign():
    message = {"contacts": [{"type": "phone", "value": "+44"}], "photo": [{"id": "s"}, {"id": "l"}]}
    assert holds("contacts.[type=phone].value=+44", message)
    assert holds("contacts.[type=fax]!=__exists__||photo___array_pop.id=l", message)
    assert not holds("contacts.[type=phone].value=+45", message)


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), json_values, max_size=4))
def test_first_holding_is_the_first_condition_in_order_that_holds_on_its_own(message):
    # a spec's message kinds are tried in one generated function: it must pick what trying each in turn picks
    from chatbridge.lang.conditions import FirstHolding

    sources = ["a=1||b!=x", "c=__exists__", "d!=__exists__||a=2,3", "b.0|||d=true", ""]
    for conditions in ([], sources[:4], sources, sources[2:], ["", "a=1"]):
        compiled = tuple(compile_condition(source) for source in conditions)
        expected = next((i for i, condition in enumerate(compiled) if condition.holds(message, message)), -1)
        assert FirstHolding(compiled).index(message, message) == expected
