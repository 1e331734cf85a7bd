"""Request bodies: JSON, form-encoded, base64, and every way a body can be refused."""

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbridge.errors import (
    EmptyBody,
    NotBase64,
    NotJson,
    NotUtf8,
    PayloadError,
    TooDeep,
    TooLarge,
    UnsupportedContentType,
)
from chatbridge.ingest.payload import decode_body

FORM = "application/x-www-form-urlencoded"


def test_json_object_and_list_decode():
    assert decode_body('{"a": 1}', content_type="application/json") == {"a": 1}
    assert decode_body(b'[{"a": 1}]', content_type="application/json; charset=utf-8") == [{"a": 1}]


def test_integers_above_two_to_the_53_stay_exact():
    assert decode_body('{"message_token": 4987381189870374000}', content_type=None)["message_token"] == \
        4987381189870374000


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "TEXT/PLAIN; charset=UTF-8",
                                          "application/vnd.api+json", "*/*"])
def test_absent_or_mislabelled_content_type_is_read_as_json(content_type):
    assert decode_body('{"a": "b"}', content_type=content_type) == {"a": "b"}


def test_form_fields_become_first_level_strings():
    body = "Body=Hello+World&From=whatsapp:%2B14133881111&ToCity=&Emoji=%F0%9F%98%80"
    assert decode_body(body, content_type=FORM + "; charset=UTF-8") == {
        "Body": "Hello World", "From": "whatsapp:+14133881111", "ToCity": "", "Emoji": "😀"}


def test_repeated_form_field_keeps_its_last_value_like_php():
    assert decode_body("a=1&a=2", content_type=FORM) == {"a": "2"}


def test_base64_body_as_api_gateway_delivers_it():
    encoded = base64.b64encode('{"text": "héllo 👋"}'.encode()).decode()
    assert decode_body(encoded, content_type="application/json", is_base64=True) == {"text": "héllo 👋"}


def test_utf8_bom_is_dropped():
    assert decode_body(b'\xef\xbb\xbf{"a": 1}', content_type="application/json") == {"a": 1}


@pytest.mark.parametrize("body, content_type, error, status", [
    (None, "application/json", EmptyBody, 400),
    ("", "application/json", EmptyBody, 400),
    ("  \n", FORM, EmptyBody, 400),
    (b'{"a": "\xff"}', "application/json", NotUtf8, 400),
    ("a=%FF", FORM, NotUtf8, 400),
    ("\ud800", "application/json", NotUtf8, 400),
    ('{"a": 1', "application/json", NotJson, 400),
    ('"just a string"', "application/json", NotJson, 400),
    ("12", None, NotJson, 400),
    ('{"a": NaN}', None, NotJson, 400),
    ("a=1", None, NotJson, 400),
    ("not base64!", "application/json", NotBase64, 400),
    ("<xml/>", "text/xml", UnsupportedContentType, 415),
    ("--x", "multipart/form-data; boundary=x", UnsupportedContentType, 415),
])
def test_unreadable_bodies_get_a_typed_error_with_its_http_status(body, content_type, error, status):
    with pytest.raises(error) as raised:
        decode_body(body, content_type=content_type, is_base64=error is NotBase64)
    assert raised.value.status == status
    assert isinstance(raised.value, PayloadError)
    assert str(raised.value)


def test_body_over_the_limit_is_too_large_before_parsing():
    body = json.dumps({"a": "x" * 2000})
    with pytest.raises(TooLarge) as raised:
        decode_body(body, content_type="application/json", max_bytes=1000)
    assert raised.value.status == 413
    with pytest.raises(TooLarge):
        decode_body(base64.b64encode(body.encode()), content_type=None, is_base64=True, max_bytes=1000)
    assert decode_body(body, content_type=None, max_bytes=len(body))["a"] == "x" * 2000


def test_multibyte_text_counts_bytes_not_characters():
    body = json.dumps({"a": "é" * 600}, ensure_ascii=False)  # 1200+ bytes, 600+ characters
    with pytest.raises(TooLarge):
        decode_body(body, content_type=None, max_bytes=1000)


def test_sixty_four_levels_pass_and_sixty_five_are_too_deep():
    assert decode_body("[" * 64 + "]" * 64, content_type=None)
    with pytest.raises(TooDeep):
        decode_body("[" * 65 + "]" * 65, content_type=None)
    with pytest.raises(TooDeep):
        decode_body('{"a":' * 65 + "1" + "}" * 65, content_type=None)


def test_ten_thousand_levels_are_too_deep_not_a_crash():
    with pytest.raises(TooDeep):
        decode_body("[" * 10_000 + "]" * 10_000, content_type="application/json")
    with pytest.raises(TooDeep):
        decode_body('{"a":' * 100_000 + "1" + "}" * 100_000, content_type="application/json", max_bytes=10**7)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([None, "application/json", FORM, "text/plain", "text/xml"]),
       st.booleans())
def test_any_bytes_decode_or_raise_a_payload_error(body, content_type, is_base64):
    try:
        value = decode_body(body, content_type=content_type, is_base64=is_base64)
    except PayloadError:
        return
    assert isinstance(value, (dict, list))


json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30).filter(lambda value: isinstance(value, (dict, list)))


@settings(max_examples=200, deadline=None)
@given(json_documents, st.booleans())
def test_any_json_document_comes_back_unchanged(document, as_base64):
    body = json.dumps(document, ensure_ascii=False).encode()
    if as_base64:
        body = base64.b64encode(body)
    assert decode_body(body, content_type="application/json", is_base64=as_base64) == document
