"""Each preset's sample payloads, which the spec editor offers: they ship in the package (a Lambda cannot
read ../shared), are the shared captures byte for byte with their origin named, say truly what the preset
makes of them, and come out of the admin API."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from importlib.resources import files

import pytest

from chatbridge.ingest.payload import decode_body
from chatbridge.presets import PRESETS
from chatbridge.presets.samples import SAMPLES, body_of, samples_of
from chatbridge.spec.mapping import map_payload
from support.paths import PAYLOADS
from support.presets import spec_of

ALL = [(preset, sample) for preset in SAMPLES for sample in samples_of(preset)]


def _origins():
    """file -> origin, from the shared captures' SOURCES.md table ('same file' rows name the row above)."""
    origins, last = {}, None
    for line in (PAYLOADS / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        row = re.match(r"\| `([^`]+)` \| (.+?) \|", line)
        if row:
            origin = row.group(2)
            if origin.startswith("same file") and last:
                origin = last.split(" (")[0] + origin[len("same file"):]
            origins[row.group(1)] = last = origin
    return origins


def test_every_preset_offers_every_capture_of_its_provider_folder():
    assert set(SAMPLES) == set(PRESETS)
    for preset, (directory, samples) in SAMPLES.items():
        packaged = {path.name for path in files("chatbridge.presets").joinpath("samples", directory).iterdir()}
        assert packaged == {sample.name for sample in samples}, preset
        assert len({sample.title for sample in samples}) == len(samples), f"{preset}: two samples share a title"


@pytest.mark.parametrize("preset,sample", ALL, ids=[f"{p}/{s.name}" for p, s in ALL])
def test_a_packaged_sample_is_the_shared_capture_and_names_its_origin(preset, sample):
    directory = SAMPLES[preset][0]
    shared = PAYLOADS / directory / sample.name
    assert shared.is_file(), f"sample payloads missing: expected {shared} beside the checkout"
    assert body_of(preset, sample).encode("utf-8") == shared.read_bytes()
    origin = _origins()[f"{directory}/{sample.name}"]
    # SOURCES.md abbreviates some commits (66a0210…) and paths; the sample names them in full
    repository, _, rest = origin.partition("@")
    assert sample.source.startswith(repository + "@")
    commit = rest.split(":")[0].rstrip("…")
    assert sample.source.split("@", 1)[1].startswith(commit)
    assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}:\S.*", sample.source), sample.source


@pytest.mark.parametrize("preset,sample", ALL, ids=[f"{p}/{s.name}" for p, s in ALL])
def test_a_sample_title_says_what_the_preset_makes_of_it(preset, sample):
    payload = decode_body(body_of(preset, sample).encode("utf-8"), content_type=sample.content_type)
    result = map_payload(spec_of(preset), payload)
    if "(ignored)" in sample.title:
        assert not result.accepted, result
    elif "(receipt)" in sample.title:
        assert result.accepted and result.receipts and not result.chats, result
    elif "(from the business)" in sample.title:
        assert result.accepted and [m.user_id for c in result.chats for m in c.messages] == [-2], result
    elif "(skipped)" in sample.title:
        assert result.accepted and not result.chats and result.skipped
    else:
        assert result.accepted and result.chats and result.chats[0].messages, (sample.title, result)


def _get(base, path):
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_admin_api_lists_each_presets_samples_and_gives_their_bodies(template_api):
    def get(path):
        return _get(template_api, path)

    status, listing = get("/admin/presets")
    assert status == 200
    telegram = next(p for p in listing["presets"] if p["name"] == "telegram")
    assert telegram["samples"][0] == {"name": "courier_helloMsg.json", "title": "text message",
                                      "source": samples_of("telegram")[0].source, "content_type": "application/json"}
    status, answer = get("/admin/presets/twilio/samples")
    assert status == 200 and answer["preset"] == "twilio"
    first = answer["samples"][0]
    assert first["content_type"] == "application/x-www-form-urlencoded"
    assert first["body"] == (PAYLOADS / "twilio" / first["name"]).read_text(encoding="utf-8")
    status, missing = get("/admin/presets/no-such-preset/samples")
    assert status == 404 and "no-such-preset" in missing["reason"]
