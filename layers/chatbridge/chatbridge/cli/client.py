"""HTTP client for chatbridge's admin API, for operators and scripts.

Talks to a local stack (``chatbridge local``, plain HTTP on loopback) or to the deployed API Gateway,
where ``/admin`` routes are IAM-authorised: requests to any non-loopback endpoint are signed with SigV4
(service ``execute-api``) using the caller's usual AWS credentials (env, profile, SSO...).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from chatbridge.errors import ChatbridgeError

DEFAULT_ENDPOINT = "http://127.0.0.1:3000"
ENDPOINT_ENV = "CHATBRIDGE_ENDPOINT"


class ApiError(ChatbridgeError):
    """The API refused a request (``status`` > 0) or could not be reached (``status`` 0)."""

    def __init__(self, status: int, reason: str, body: Any = None) -> None:
        super().__init__(f"{status} {reason}" if status else reason)
        self.status = status
        self.reason = reason
        self.body = body


class EndpointError(ChatbridgeError, ValueError):
    """The endpoint is not an http(s) URL with a host: nothing could be sent to it, so say why up front."""


def check_endpoint(endpoint: str, *, source: str = "--endpoint") -> str:
    """The endpoint without its trailing slash, or ``EndpointError`` saying what to write instead.

    Without a scheme, ``127.0.0.1:3000`` has no host to ``urlsplit`` and would be taken for an AWS
    endpoint to sign for; an unreachable or odd URL (no host, a bad port, a query) is caught here too,
    before any request, rather than as a confusing failure to connect or to sign.
    """
    text = endpoint.strip()
    scheme, separator, _ = text.partition("://")
    if not separator:
        raise EndpointError(f"{source} {endpoint!r} has no scheme: write http://{text.rstrip('/')} for a local "
                            f"stack, or the https:// URL of the deployed API")
    if scheme.lower() not in ("http", "https"):
        raise EndpointError(f"{source} {endpoint!r}: the scheme must be http:// or https://, not {scheme}://")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises on a port out of range or not a number)
    except ValueError as exc:
        raise EndpointError(f"{source} {endpoint!r} is not a valid URL ({exc})") from None
    if not parts.hostname:
        raise EndpointError(f"{source} {endpoint!r} names no host")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise EndpointError(f"{source} {endpoint!r}: give the API's base URL, without '?' or '#'")
    return text.rstrip("/")


def is_loopback(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def needs_signing(endpoint: str) -> bool:
    """AWS endpoints (execute-api or a custom domain) are signed; a local stack, even on a LAN address, not."""
    if is_loopback(endpoint):
        return False
    try:
        return not ipaddress.ip_address(urlsplit(endpoint).hostname or "").is_private
    except ValueError:
        return True


def _region_of(host: str) -> str | None:
    found = re.search(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", host)
    return found.group(1) if found else None


def _reason(status: int, body: Any, text: str) -> str:
    if isinstance(body, dict):
        for key in ("reason", "message", "error", "detail", "errors"):
            value = body.get(key)
            if value:
                return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.strip()[:500] or f"HTTP {status}"


def _local_stack_starting(error: urllib.error.HTTPError, body: Any) -> float | None:
    """Seconds to wait when a local stack answers that it is still starting (503, ``Retry-After``), else None.
    A stack that is stopping may not come back: that 503 is the answer."""
    if error.code != 503 or not isinstance(body, dict) or body.get("code") != "starting":
        return None
    try:
        return min(max(float(error.headers.get("Retry-After") or 1), 0.1), 5.0)
    except ValueError:
        return 1.0


def _secret_path(name: str) -> str:
    """``/chatbridge/x/y`` travels as ``/admin/secrets/chatbridge/x/y`` (a ``{name+}`` route: one slash each)."""
    return "/admin/secrets/" + quote(name.lstrip("/"), safe="/")


class ChatbridgeClient:
    def __init__(self, endpoint: str | None = None, *, timeout: float = 30.0, region: str | None = None) -> None:
        source = "--endpoint" if endpoint else f"${ENDPOINT_ENV}" if os.environ.get(ENDPOINT_ENV) else "the default"
        self.endpoint = check_endpoint(endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT, source=source)
        self.timeout = timeout
        self.sign = needs_signing(self.endpoint)
        self.region = region or _region_of(urlsplit(self.endpoint).hostname or "") or \
            os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")

    # -- transport ----------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        """Send one request; returns the decoded JSON answer, raises ApiError on anything but 2xx."""
        query = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.endpoint + path + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.sign:
            headers = self._signed_headers(method, url, data, headers)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        give_up = time.monotonic() + self.timeout
        while True:
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http/https only)
                    return self._decode(response.read())
            except urllib.error.HTTPError as error:
                text = error.read().decode("utf-8", errors="replace")
                decoded = self._decode(text.encode("utf-8"), strict=False)
                wait = None if self.sign else _local_stack_starting(error, decoded)
                if wait is not None and time.monotonic() + wait < give_up:
                    time.sleep(wait)  # `chatbridge local` is still starting: it said when to ask again
                    continue
                raise ApiError(error.code, _reason(error.code, decoded, text), decoded) from None
            except (urllib.error.URLError, OSError) as error:
                hint = " (is `chatbridge local` running?)" if not self.sign else ""
                reason = getattr(error, "reason", error)
                raise ApiError(0, f"cannot reach {self.endpoint}: {reason}{hint}") from None

    @staticmethod
    def _decode(raw: bytes, strict: bool = True) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            if strict:
                raise ApiError(0, f"the API answered something that is not JSON: {raw[:200]!r}") from None
            return None

    def _signed_headers(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        import botocore.session
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = botocore.session.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise ApiError(0, f"{self.endpoint} is an AWS endpoint and needs AWS credentials to sign requests; "
                              "none were found (set AWS_PROFILE or run `aws configure`)")
        region = self.region or session.get_config_variable("region")
        if not region:
            raise ApiError(0, "cannot tell the AWS region of the endpoint; set AWS_REGION")
        aws_request = AWSRequest(method=method, url=url, data=data or b"", headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(aws_request)
        return dict(aws_request.headers.items())

    # -- incoming webhooks (specs) ------------------------------------------------------------------
    def put_incoming_webhook(self, spec: dict[str, Any]) -> Any:
        identifier = spec.get("identifier")
        if not identifier:
            raise ApiError(0, "an incoming webhook spec needs an 'identifier'")
        return self.request("PUT", f"/admin/incoming-webhooks/{quote(str(identifier), safe='')}", body=spec)

    def get_incoming_webhook(self, identifier: str) -> Any:
        return self.request("GET", f"/admin/incoming-webhooks/{quote(str(identifier), safe='')}")

    def list_incoming_webhooks(self) -> Any:
        return self.request("GET", "/admin/incoming-webhooks")

    # -- outgoing webhooks and REST APIs ------------------------------------------------------------
    def put_webhook(self, webhook_id: str | int, webhook: dict[str, Any]) -> Any:
        return self.request("PUT", f"/admin/webhooks/{quote(str(webhook_id), safe='')}", body=webhook)

    def list_webhooks(self) -> Any:
        return self.request("GET", "/admin/webhooks")

    def put_rest_api(self, rest_api_id: str | int, rest_api: dict[str, Any]) -> Any:
        return self.request("PUT", f"/admin/rest-apis/{quote(str(rest_api_id), safe='')}", body=rest_api)

    def list_rest_apis(self) -> Any:
        return self.request("GET", "/admin/rest-apis")

    # -- chats ----------------------------------------------------------------------------------------
    def list_chats(self, *, incoming: str | None = None, status: str | None = None) -> Any:
        return self.request("GET", "/admin/chats", query={"incoming": incoming, "status": status})

    def get_chat(self, chat_id: int | str) -> Any:
        return self.request("GET", f"/admin/chats/{quote(str(chat_id), safe='')}")

    def list_messages(self, chat_id: int | str) -> Any:
        return self.request("GET", f"/admin/chats/{quote(str(chat_id), safe='')}/messages")

    def reply(self, chat_id: int | str, text: str, *, user_id: int = 1, file: str | None = None) -> Any:
        """An operator message; ``file`` is the id ``upload_file`` answered (the message then carries it)."""
        body: dict[str, Any] = {"msg": text, "user_id": user_id}
        if file is not None:
            body["file"] = file
        return self.request("POST", f"/admin/chats/{quote(str(chat_id), safe='')}/messages", body=body)

    def upload_file(self, chat_id: int | str, name: str, content: bytes, *, media_type: str | None = None) -> Any:
        """Store a file for a chat; returns the API's ``file`` (``id``, ``url``, ``name``, ``type``, ``kind``...).

        Up to ``INLINE_MAX_BYTES`` the bytes go inline (base64 JSON, one request); a larger file is PUT to the
        presigned S3 URL the API answers (not signed again: the URL carries its own signature)."""
        from chatbridge.media.uploads import INLINE_MAX_BYTES

        path = f"/admin/chats/{quote(str(chat_id), safe='')}/files"
        body: dict[str, Any] = {"name": name, "type": media_type}
        if len(content) <= INLINE_MAX_BYTES:
            answer = self.request("POST", path, body={**body, "content_base64": base64.b64encode(content).decode()})
            return answer["file"]
        answer = self.request("POST", path, body={**body, "size": len(content)})
        upload = answer["upload"]
        request = urllib.request.Request(upload["url"], data=content, method=upload.get("method", "PUT"),
                                         headers=upload.get("headers") or {})
        try:
            with urllib.request.urlopen(request, timeout=max(self.timeout, 120)):  # noqa: S310 (the API's URL)
                pass
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", errors="replace")
            raise ApiError(error.code, f"the file storage refused the upload: {text.strip()[:300]}") from None
        except (urllib.error.URLError, OSError) as error:
            raise ApiError(0, f"cannot reach the file storage to upload: {getattr(error, 'reason', error)}") from None
        return answer["file"]

    # -- deliveries -----------------------------------------------------------------------------------
    def list_deliveries(self, *, chat_id: int | str | None = None) -> Any:
        return self.request("GET", "/admin/deliveries", query={"chat_id": chat_id})

    def redrive_deliveries(self) -> Any:
        return self.request("POST", "/admin/deliveries/redrive")

    def redrive_stream_failures(self) -> Any:
        """One round of stream redrive (about 20 s of work); ``remaining`` in the answer says to call again."""
        return self.request("POST", "/admin/deliveries/redrive-stream")

    # -- secrets (SSM SecureStrings under /chatbridge/) ----------------------------------------------
    def put_secret(self, name: str, value: str) -> Any:
        """Write a secret; the answer names it and its version, never the value."""
        return self.request("PUT", _secret_path(name), body={"value": value})

    def list_secrets(self) -> Any:
        return self.request("GET", "/admin/secrets")

    def delete_secret(self, name: str) -> Any:
        return self.request("DELETE", _secret_path(name))

    # -- documents ------------------------------------------------------------------------------------
    def apply(self, document: dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
        """Store a whole setup: REST APIs, then incoming webhooks, then outgoing webhooks.

        Accepts one incoming webhook spec (an object with ``identifier``), a list of them, or a document
        ``{"rest_apis": [...], "incoming_webhooks": [...], "webhooks": [...]}`` where REST APIs and
        outgoing webhooks carry their ``id``. Every entry is checked first (``chatbridge.cli.documents``): a
        bad one raises ``DocumentError`` and nothing is stored. Returns what was stored, in order.
        """
        from chatbridge.cli.documents import plan

        applied = []
        for entry in plan(document, stored_rest_api_ids=self._stored_rest_api_ids):
            if entry.section == "incoming_webhooks":
                stored = self.put_incoming_webhook(entry.body)
            elif entry.section == "rest_apis":
                stored = self.put_rest_api(entry.key, entry.body)
            else:
                stored = self.put_webhook(entry.key, entry.body)
            applied.append({"kind": entry.kind, "id": entry.body.get("identifier", entry.body.get("id")),
                            "stored": stored})
        return applied

    def _stored_rest_api_ids(self) -> set[str]:
        answer = self.list_rest_apis()
        items = answer.get("rest_apis", []) if isinstance(answer, dict) else answer if isinstance(answer, list) else []
        return {str(item.get("id")) for item in items if isinstance(item, dict)}
