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
