"""What an operator may send (chatbridge.media.uploads): names, types, first bytes, sizes, object keys."""

import re

import pytest

from chatbridge.media.files import KEY_PATTERN
from chatbridge.media.uploads import (
    MAX_FILE_BYTES,
    MAX_NAME_CHARS,
    UploadRefused,
    check_content,
    check_size,
    clean_name,
    key_of,
    kind_of,
    media_type_of,
    name_from_metadata,
    new_upload,
    object_metadata,
)


@pytest.mark.parametrize(("given", "kept"), [
    ("receipt.pdf", "receipt.pdf"), ("C:\\Users\\a\\photo.JPG", "photo.JPG"), ("../../etc/passwd", "passwd"),
    ("bad\x00na\x1fme.png", "badname.png"), ("  spaced .txt ", "spaced .txt"),
])
def test_a_file_name_keeps_its_last_part_without_control_characters(given, kept):
    assert clean_name(given) == kept


def test_a_long_name_is_shortened_but_keeps_its_extension():
    name = clean_name("x" * 500 + ".pdf")
    assert len(name) == MAX_NAME_CHARS and name.endswith(".pdf")


@pytest.mark.parametrize("name", ["", "/", "...", "\x00"])
def test_a_file_without_a_name_is_refused(name):
    with pytest.raises(UploadRefused) as refused:
        clean_name(name)
    assert refused.value.status == 422


@pytest.mark.parametrize(("name", "declared", "expected"), [
    ("a.jpg", None, "image/jpeg"), ("a.bin", "image/JPG", "image/jpeg"), ("a", "Application/PDF; x=1", "application/pdf"),
    ("a.docx", "application/octet-stream", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("a.ogg", None, "audio/ogg"),
])
def test_the_type_is_the_declared_one_else_the_names(name, declared, expected):
    assert media_type_of(name, declared) == expected


@pytest.mark.parametrize(("name", "declared"), [("a.html", None), ("a.svg", None), ("a.png", "image/svg+xml"),
                                                ("a.exe", None), ("a.js", None), ("noext", None)])
def test_scriptable_executable_and_unknown_types_are_refused_with_415(name, declared):
    with pytest.raises(UploadRefused) as refused:
        media_type_of(name, declared)
    assert refused.value.status == 415 and "allowed: image/jpeg" in refused.value.reason


def test_images_are_images_and_everything_else_attachments():
    assert [kind_of(t) for t in ("image/png", "image/webp", "application/pdf", "video/mp4")] == [
        "image", "image", "attachment", "attachment"]


@pytest.mark.parametrize(("media_type", "head", "ok"), [
    ("image/png", b"\x89PNG\r\n\x1a\n....", True), ("image/png", b"<html>", False),
    ("image/jpeg", b"\xff\xd8\xff\xe0", True), ("image/gif", b"GIF89a", True),
    ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", True), ("image/webp", b"RIFF\x00\x00\x00\x00WAVEfmt ", False),
    ("application/pdf", b"%PDF-1.4", True), ("application/pdf", b"<script>", False),
    ("text/plain", b"<html>", True),  # served as a download (attachment), so its bytes are not checked
])
def test_types_shown_inline_must_start_as_that_type(media_type, head, ok):
    if ok:
        check_content(media_type, head)
    else:
        with pytest.raises(UploadRefused) as refused:
            check_content(media_type, head)
        assert refused.value.status == 415


def test_sizes_outside_the_limits_are_422_or_413():
    check_size(1)
    check_size(MAX_FILE_BYTES)
    for size, status in ((0, 422), (MAX_FILE_BYTES + 1, 413)):
        with pytest.raises(UploadRefused) as refused:
            check_size(size)
        assert refused.value.status == status


def test_each_upload_gets_a_fresh_unguessable_key_in_the_media_layout():
    first, second = new_upload(4, "photo.png", None), new_upload(4, "photo.png", None)
    assert first.key != second.key and KEY_PATTERN.match(first.key)
    assert re.fullmatch(r"media/4/[0-9a-f]{64}\.png", first.key) and first.key.endswith(first.id)
    assert key_of(4, first.id) == first.key


@pytest.mark.parametrize("file_id", ["../1/" + "a" * 64, "A" * 64, "a" * 63, "a" * 64 + "/x", 7])
def test_a_file_id_that_is_not_one_is_refused(file_id):
    with pytest.raises(UploadRefused) as refused:
        key_of(4, file_id)
    assert refused.value.status == 422


def test_a_name_survives_s3_metadata_which_is_ascii_only():
    metadata = object_metadata(3, "Gr\u00fc\u00dfe \u2714.pdf")
    assert metadata["chat-id"] == "3" and metadata["filename"].isascii()
    assert name_from_metadata(metadata) == "Gr\u00fc\u00dfe \u2714.pdf"
