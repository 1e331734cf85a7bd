"""The spec editor in a real browser: a sample from the provider's captured set, and the spec as YAML (edit,
preview, field errors, syntax errors with their line and column, save) as well as JSON."""

from __future__ import annotations

import json

import pytest
import yaml

from support.console import call, console_url, screenshot

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect
pytestmark = pytest.mark.slow

OPENWA = {"base_url": "https://wa.example.com", "secret": "console-openwa-secret-0123"}


@pytest.fixture(scope="module")
def openwa_spec(stack):
    """An integration made by the open-wa preset, as an admin would make it."""
    status, answer = call(stack, "POST", "/admin/presets/open-wa/apply",
                          {"identifier": "editor-openwa", "values": OPENWA, "replace": True})
    assert status == 200, answer
    return "editor-openwa"


def test_a_sample_from_the_providers_set_loads_into_the_editor_with_its_source_and_previews(page, stack, openwa_spec):
    page.goto(console_url(stack, f"#/integrations/edit/{openwa_spec}"))
    expect(page.get_by_label("Spec (JSON)")).not_to_have_value("")
    picker = page.get_by_label("Sample from the provider's sample set")
    # the spec's own preset comes first, then every other provider's samples
    expect(picker.locator("optgroup").first).to_have_attribute("label", "open-wa: WhatsApp via open-wa (wa-automate)")
    expect(picker.locator("optgroup[label^='telegram']")).to_have_count(1)
    picker.select_option("open-wa/openwa_v5docs_incoming_image.json")
    sample = page.get_by_label("Sample payload")
    expect(sample).to_have_value(_packaged(stack, "open-wa", "openwa_v5docs_incoming_image.json"))
    expect(page.locator("#sample-source")).to_contain_text("open-wa/wa-automate-nodejs@66a0210")
    preview = page.get_by_role("region", name="Preview")
    expect(preview).to_contain_text("1 chat(s), 1 message(s), 0 skipped")
    expect(preview).to_contain_text("Receipt from today")
    preview.scroll_into_view_if_needed()
    screenshot(page, "spec-samples")

    # the business's own message in a group: previewed as the message it is (stored as sent from the phone)
    picker.select_option("open-wa/openwa_v5docs_outgoing_group_fromMe.json")
    expect(preview).to_contain_text("1 chat(s), 1 message(s), 0 skipped")
    expect(preview).to_contain_text("I will post the notes here.")
    # another provider's capture, form-encoded: previewed as the form fields Twilio posts, where this open-wa
    # spec finds no chat id (Twilio names it From)
    picker.select_option("twilio/courier_receiveValid.txt")
    expect(sample).to_have_value(_packaged(stack, "twilio", "courier_receiveValid.txt"))
    expect(preview).to_contain_text("message 0: no chat id at 'from'")


def _packaged(stack, preset, name):
    status, answer = call(stack, "GET", f"/admin/presets/{preset}/samples")
    assert status == 200
    return next(sample["body"] for sample in answer["samples"] if sample["name"] == name)


def test_the_spec_edits_as_yaml_previews_and_saves_and_switches_back_to_json(page, stack, openwa_spec):
    page.goto(console_url(stack, f"#/integrations/edit/{openwa_spec}"))
    json_box = page.get_by_label("Spec (JSON)")
    expect(json_box).not_to_have_value("")
    spec = {**json.loads(json_box.input_value()), "name": "yes"}  # YAML 1.1 (PyYAML, the CLI) reads yes as true
    json_box.fill(json.dumps(spec, indent=2))
    page.get_by_label("YAML", exact=True).check()
    spec_box = page.get_by_label("Spec (YAML)")
    expect(spec_box).to_have_value(_contains_line(f"identifier: {openwa_spec}"))
    expect(spec_box).to_have_value(_contains_line("name: 'yes'"))
    assert yaml.safe_load(spec_box.input_value()) == spec  # the same spec to the CLI's YAML reader
    picker = page.get_by_label("Sample from the provider's sample set")
    picker.select_option("open-wa/openwa_v5docs_incoming_text.json")
    preview = page.get_by_role("region", name="Preview")
    expect(preview).to_contain_text("Hi, is my order ready?")

    text = spec_box.input_value()
    spec_box.fill(text.replace("name: 'yes'", "name: WhatsApp shop (YAML)"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text(f"Saved {openwa_spec}")
    stored = call(stack, "GET", f"/admin/incoming-webhooks/{openwa_spec}")[1]
    assert stored["name"] == "WhatsApp shop (YAML)" and stored["verification"]["shared_secret"]["value"] == OPENWA["secret"]

    page.get_by_label("JSON", exact=True).check()
    json_box = page.get_by_label("Spec (JSON)")
    assert json.loads(json_box.input_value())["name"] == "WhatsApp shop (YAML)"
    page.get_by_label("YAML", exact=True).check()
    page.reload()  # the format chosen last is kept
    expect(page.get_by_label("Spec (YAML)")).to_have_value(_contains_line(f"identifier: {openwa_spec}"))


def _contains_line(line):
    import re

    return re.compile(rf"(^|\n){re.escape(line)}(\n|$)")


def test_bad_yaml_shows_its_line_and_column_and_a_field_error_points_at_its_yaml_line(page, stack, openwa_spec):
    page.goto(console_url(stack, f"#/integrations/edit/{openwa_spec}"))
    expect(page.get_by_label("Spec (JSON)")).not_to_have_value("")
    page.get_by_label("YAML", exact=True).check()
    spec_box = page.get_by_label("Spec (YAML)")
    expect(spec_box).to_have_value(_contains_line(f"identifier: {openwa_spec}"))
    good = spec_box.input_value()
    lines = good.split("\n")
    nick_line = next(i for i, line in enumerate(lines) if line.startswith("nick:")) + 1

    spec_box.fill(good.replace("chat_id: from", "chat_id: [from"))
    error = page.locator("#spec-errors .syntax")
    expect(error).to_contain_text("Not valid YAML (line")
    expect(error.locator("pre.snippet")).to_contain_text("chat_id: [from")
    expect(spec_box).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("region", name="Preview")).to_contain_text("Fix the YAML")
    screenshot(page, "spec-yaml-error")
    # the syntax error keeps the text: switching to JSON is refused until it reads
    page.get_by_label("JSON", exact=True).click()
    expect(page.get_by_label("YAML", exact=True)).to_be_checked()
    expect(page.get_by_role("status")).to_contain_text("Fix the YAML before switching to JSON")

    spec_box.fill(good.replace(lines[nick_line - 1], "nick: sender..pushname"))
    field_error = page.locator("#spec-errors .field-error[data-field='nick']")
    expect(field_error).to_contain_text(f"line {nick_line}")
    field_error.get_by_role("button", name=f"Go to line {nick_line}").click()
    expect(spec_box).to_be_focused()
    caret_line = page.evaluate("() => { const a = document.getElementById('spec-text');"
                               " return a.value.slice(0, a.selectionStart).split('\\n').length; }")
    assert caret_line == nick_line


def test_bad_json_shows_its_line_and_column(page, stack, openwa_spec):
    page.goto(console_url(stack, f"#/integrations/edit/{openwa_spec}"))
    spec_box = page.get_by_label("Spec (JSON)")
    expect(spec_box).not_to_have_value("")
    spec_box.fill('{\n  "identifier": "x",\n  "name" "no colon"\n}')
    error = page.locator("#spec-errors .syntax")
    expect(error).to_contain_text("Not valid JSON (line 3, column")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Not saved: JSON line 3")
