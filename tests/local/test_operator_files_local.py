"""`chatbridge reply CHAT --file PATH text` against `chatbridge local` on the real template.yaml: a small file
goes inline, one over 4 MiB by the presigned PUT to the local stack's moto S3, the stack's own pollers carry
each message to a REST API (the stack's echo endpoint) that sends the file's link, and that link serves the
bytes. A refused type is a non-zero exit with the API's reason."""

import json
import urllib.error
import urllib.request

import pytest

from chatbridge.cli import main
from chatbridge.local.stack import LocalStack, StackOptions
from chatbridge.media.uploads import INLINE_MAX_BYTES
from support.local_stack import eventually
from support.paths import ROOT

pytestmark = pytest.mark.slow
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
BIG_PDF = b"%PDF-1.7\n" + b"7" * (INLINE_MAX_BYTES + 1000)
SPEC = {"identifier": "local-files", "name": "Local files", "chat_id": "chat", "message_id": "id",
        "text": [{"body": "{{msg.text}}"}]}


def _request(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # follows the 302 to moto's S3
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_files_sent_from_the_cli_reach_the_rest_api_and_their_links_serve_the_bytes(tmp_path, capsys):
    with LocalStack(StackOptions(ROOT / "template.yaml", port=0)) as stack:
        base = stack.url
        assert _request(f"{base}/admin/incoming-webhooks/local-files", "PUT", SPEC)[0] == 201
        assert _request(f"{base}/admin/rest-apis/send-file", "PUT", {
            "url": f"{base}/_local/echo/send-file", "headers": {"Content-Type": "application/json"},
            "body": '{"url": {{file_url}}, "name": {{file_name}}, "kind": {{file_kind}}, "caption": {{msg_clean}}}'})[0] == 201
        assert _request(f"{base}/admin/webhooks/files", "PUT", {
            "event": "chat.web_add_msg_admin", "rest_api_id": "send-file",
            "conditions": ["{args.file.url} notempty"]})[0] == 201
        status, body = _request(f"{base}/webhooks/incoming/local-files", "POST", {"chat": "c1", "id": "m1", "text": "Hi"})
        assert status == 200, body
        chat_id = json.loads(body)["chats"][0]
        small, big = tmp_path / "photo.png", tmp_path / "catalogue.pdf"
        small.write_bytes(PNG)
        big.write_bytes(BIG_PDF)

        assert main(["reply", str(chat_id), "--file", str(small), "Your photo", "--endpoint", base]) == 0
        assert main(["reply", str(chat_id), "--file", str(big), "--endpoint", base]) == 0  # the presigned PUT
        assert "with catalogue.pdf (application/pdf, " in capsys.readouterr().out

        def echoed():
            records = json.loads(_request(f"{base}/_local/echo")[1])["received"]
            return [json.loads(r["body"]) for r in records if r["path"].endswith("/send-file")] if len(records) >= 2 \
                else None
        sent = sorted(eventually(echoed, timeout=60), key=lambda body: body["name"])
        assert [(s["name"], s["kind"], s["caption"]) for s in sent] == [
            ("catalogue.pdf", "attachment", ""), ("photo.png", "image", "Your photo")]
        for record, content in zip(sent, (BIG_PDF, PNG), strict=True):
            assert record["url"].startswith(f"{base}/media/")
            assert _request(record["url"]) == (200, content)

        refused = tmp_path / "page.html"
        refused.write_text("<html><script>alert(1)</script></html>")
        assert main(["reply", str(chat_id), "--file", str(refused), "--endpoint", base]) == 1
        assert "error (HTTP 415): type: text/html is not a type operators may send" in capsys.readouterr().err
