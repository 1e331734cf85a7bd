"""The ingest path's reading of a stored spec (``spec.stored``) is the model's reading, without the model.

``load_stored_spec`` trusts a stored spec whose fields are exactly the models' and compiles it without
building ``IncomingWebhookSpec``; these tests keep its field table equal to the models and its results equal
to the model's on every preset and test spec, and show that any other document still goes through the model.
"""

import json
from types import UnionType
from typing import Union, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from chatbridge.ingest.payload import decode_body
from chatbridge.repository import specs, tables
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec
from chatbridge.spec.signatures import verify_request
from chatbridge.spec.stored import _FIELDS, StoredSpec, load_stored_spec
from support.paths import PAYLOADS, SPECS
from support.presets import DIRECTORY, FORM, spec_of


def _nested_model(annotation):
    """The pydantic model a field holds: its name ('[name]' for a list of them) and the model, or (None, None)."""
    if get_origin(annotation) is list:
        name, model = _nested_model(get_args(annotation)[0])
        return (f"[{name}]", model) if model is not None else (None, None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__, annotation
    if get_origin(annotation) in (Union, UnionType):
        for arg in get_args(annotation):
            name, model = _nested_model(arg)
            if model is not None:
                return name, model
    return None, None


def _model_fields(model, found):
    found[model.__name__] = {}
    for name, info in model.model_fields.items():
        nested, nested_model = _nested_model(info.annotation)
        found[model.__name__][name] = nested
        if nested_model is not None and nested_model.__name__ not in found:
            _model_fields(nested_model, found)
    return found


def test_the_field_table_names_every_field_of_every_model_under_the_spec():
    assert _FIELDS == _model_fields(IncomingWebhookSpec, {})


def _stored_document(spec):
    """What specs.cached_spec reads back: the spec as save_spec stores it, numbers through DynamoDB's Decimals."""
    stored = spec.model_copy(update={"id": 7, "created_at": 1_700_000_000, "updated_at": 1_700_000_001})
    return stored, specs._body(tables.plain(specs._item(stored)))


def _cases():
    for name, directory in DIRECTORY.items():
        yield name, spec_of(name), directory
    yield "vonage", IncomingWebhookSpec.model_validate_json((SPECS / "vonage.json").read_text()), "vonage"
    yield "openwa_v5", IncomingWebhookSpec.model_validate_json((SPECS / "openwa_v5_envelope.json").read_text()), "openwa"


def _mapped(spec, payload):
    result = map_payload(spec, payload)
    media = [(m.media.fetch.describe(), m.media.fetch.timeout, m.media.fetch.max_bytes, m.media.fetch.hosts,
              m.media.fetch.secret_names, m.media.preview, m.media.fetch.content_type, m.media.fetch.filename)
             for chat in result.chats for m in chat.messages if m.media is not None]
    return result.to_document(), media


@pytest.mark.parametrize(("name", "spec", "directory"), list(_cases()), ids=[case[0] for case in _cases()])
def test_a_stored_spec_maps_every_sample_payload_as_the_model_does(name, spec, directory):
    model, document = _stored_document(spec)
    lean = load_stored_spec(document)
    assert isinstance(lean, StoredSpec)
    for field, nested in _FIELDS["IncomingWebhookSpec"].items():
        if nested is None:
            assert getattr(lean, field) == getattr(model, field), field
    payloads = sorted((PAYLOADS / directory).iterdir())
    assert payloads
    for path in payloads:
        if path.suffix not in (".json", ".txt"):
            continue
        payload = decode_body(path.read_bytes(), content_type=FORM if path.suffix == ".txt" else "application/json")
        assert _mapped(lean, payload) == _mapped(model, payload), path.name


@pytest.mark.parametrize(("name", "spec", "directory"), list(_cases()), ids=[case[0] for case in _cases()])
def test_a_stored_spec_verifies_requests_as_the_model_does(name, spec, directory):
    model, document = _stored_document(spec)
    lean = load_stored_spec(document)
    for headers in ({}, {"X-Hub-Signature-256": "sha256=00", "X-Telegram-Bot-Api-Secret-Token": "tg-secret",
                         "X-Twilio-Signature": "x", "X-Viber-Content-Signature": "00"}):
        outcomes = []
        for candidate in (lean, model):
            try:
                verify_request(candidate.verification, headers=headers, query={}, raw_body=b"{}")
                outcomes.append("passed")
            except Exception as error:  # noqa: BLE001 (the same error, with the same words, from both)
                outcomes.append(f"{type(error).__name__}: {error}")
        assert outcomes[0] == outcomes[1]


def test_a_document_saved_before_a_field_existed_is_read_by_the_model_with_its_default():
    _, document = _stored_document(spec_of("telegram"))
    del document["preset"]
    spec = load_stored_spec(document)
    assert isinstance(spec, IncomingWebhookSpec)
    assert spec.preset is None


def test_a_nested_document_missing_a_field_is_read_by_the_model():
    _, document = _stored_document(spec_of("open-wa"))
    kind = next(k for k in ("image", "attachment") if document[k] and document[k]["fetch"])
    del document[kind]["fetch"]["timeout"]
    spec = load_stored_spec(document)
    assert isinstance(spec, IncomingWebhookSpec)
    assert getattr(spec, kind).fetch.timeout == 10.0


def test_a_document_with_a_key_the_model_does_not_know_is_refused_as_before():
    _, document = _stored_document(spec_of("telegram"))
    with pytest.raises(ValidationError, match="nik"):
        load_stored_spec({**document, "nik": "x"})


def test_a_stored_spec_whose_clause_no_longer_compiles_raises_naming_the_field():
    _, document = _stored_document(spec_of("telegram"))
    document = json.loads(json.dumps(document))
    document["text"][0]["body"] = "{{attributes.nope}}"
    with pytest.raises(ValueError, match=r"text\[0\]\.body"):
        load_stored_spec(document)
