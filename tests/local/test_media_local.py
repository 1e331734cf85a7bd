"""`chatbridge local` on the real template.yaml serves media: the bucket exists on moto, the ingest function
fetches and stores the file, and the link in the message body redirects to the stored bytes."""

import json
import re
import urllib.error
import urllib.request

import pytest

from chatbridge.local.stack import LocalStack, StackOptions
from support.paths import ROOT

pytestmark = pytest.mark.slow
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
SPEC = {"identifier": "local-media", "name": "Local media", "chat_id": "chat", "message_id": "id",
        "text": [{"body": "{{msg.text}}"}],
        "image": {"conditions": "type=image", "body": "{{msg.caption}}", "fetch": {"url": "{{msg.url}}"}}}


def _request(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # follows the 302 to moto's S3
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_local_stack_stores_the_file_and_its_link_serves_the_bytes(httpserver):
    httpserver.expect_request("/photo.png").respond_with_data(PNG, content_type="image/png")
    with LocalStack(StackOptions(ROOT / "template.yaml", port=0)) as stack:
        assert _request(f"{stack.url}/admin/incoming-webhooks/local-media", "PUT", SPEC)[0] == 201
        status, _, body = _request(f"{stack.url}/webhooks/incoming/local-media", "POST", {
            "chat": "c1", "id": "m1", "type": "image", "caption": "Look", "url": httpserver.url_for("/photo.png")})
        assert status == 200, body
        chat_id = json.loads(body)["chats"][0]
        [message] = json.loads(_request(f"{stack.url}/admin/chats/{chat_id}/messages")[2])["messages"]
        link = re.fullmatch(r"Look\n\[file=(\S+)\]", message["msg"]).group(1)
        assert link.startswith(f"{stack.url}/media/")
        status, headers, content = _request(link)
        assert (status, content, headers["Content-Type"]) == (200, PNG, "image/png")
        assert _request(f"{stack.url}/media/1/{'0' * 64}.png")[0] == 404
