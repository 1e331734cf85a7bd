"""Function logs are readable lines locally; anything that is not a Powertools line passes untouched."""

import io
import json

from chatbridge.local.logs import ReadableStream, readable


def test_powertools_line_becomes_one_readable_line_with_extras():
    line = json.dumps({"level": "INFO", "location": "handler:12", "message": "stored chat",
                       "timestamp": "2026-01-01 12:00:01,123+0000", "service": "ingest", "cold_start": True,
                       "function_request_id": "abc", "chat_id": 7, "identifier": "openwa demo"})
    text = readable(line + "\n", "IngestFunction")
    assert text.endswith("INFO  [IngestFunction] stored chat  chat_id=7 identifier=\"openwa demo\"\n")
    assert text.count("\n") == 1


def test_exceptions_are_kept_indented_under_the_line():
    line = json.dumps({"level": "ERROR", "message": "boom", "exception": "Traceback...\nValueError: x"})
    text = readable(line, "Fn")
    assert "ERROR [Fn] boom" in text
    assert "\n    Traceback...\n    ValueError: x" in text


def test_other_output_is_left_alone():
    for line in ("plain print\n", '{"not": "a log"}\n', "{broken json\n", '{"_aws": {"CloudWatchMetrics": []}}\n'):
        assert readable(line, "Fn") == line


def test_stream_rewrites_complete_lines_only():
    target = io.StringIO()
    stream = ReadableStream(target, "Fn")
    stream.write('{"level": "INFO", "mess')
    assert target.getvalue() == ""
    stream.write('age": "hi"}\nrest')
    assert "INFO  [Fn] hi" in target.getvalue()
    stream.flush()
    assert target.getvalue().endswith("rest")


def test_the_local_stack_masks_the_query_secret_a_spec_verifies_in_its_request_line():
    """On the real template.yaml: open-wa's ``?secret=`` and a spec's own query secret name never print."""
    import logging
    import urllib.request

    import pytest

    from chatbridge.local.stack import LocalStack, StackOptions
    from support.paths import ROOT

    if not (ROOT / "template.yaml").exists():
        pytest.skip("no template.yaml")
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("chatbridge.local")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)

    def send(url, method="POST", body=None):
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

    try:
        with LocalStack(StackOptions(ROOT / "template.yaml", port=0)) as stack:
            for identifier, name in (("openwa-like", "secret"), ("own-name", "pass")):
                assert send(f"{stack.url}/admin/incoming-webhooks/{identifier}", "PUT", {
                    "name": identifier, "chat_id": "from", "text": [{"body": "{{msg.body}}"}],
                    "verification": {"shared_secret": {"query": name, "value": f"{name}-value-5521"}}}) == 201
                assert send(f"{stack.url}/webhooks/incoming/{identifier}?{name}={name}-value-5521&output=json",
                            body={"from": "a", "body": "hi"}) == 200
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    text = "\n".join(lines)
    assert "secret-value-5521" not in text and "pass-value-5521" not in text
    assert "POST /webhooks/incoming/openwa-like?secret=***&output=json -> 200" in text
    assert "POST /webhooks/incoming/own-name?pass=***&output=json -> 200" in text
