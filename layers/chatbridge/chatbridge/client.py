"""HTTP client for chatbridge's admin API, for operators and scripts.

Talks to a local stack (``chatbridge local``, plain HTTP on loopback) or to the deployed API Gateway,
where ``/admin`` routes are IAM-authorised: requests to any non-loopback endpoint are signed with SigV4
(service ``execute-api``) using the caller's usual AWS credentials (env, profile, SSO...).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

DEFAULT_ENDPOINT = "http://127.0.0.1:3000"
ENDPOINT_ENV = "CHATBRIDGE_ENDPOINT"


class ApiError(Exception):
    """The API refused a request (``status`` > 0) or could not be reached (``status`` 0)."""

    def __init__(self, status: int, reason: str, body: Any = None) -> None:
        super().__init__(f"{status} {reason}" if status else reason)
        self.status = status
        self.reason = reason
        self.body = body


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


class ChatbridgeClient:
    def __init__(self, endpoint: str | None = None, *, timeout: float = 30.0, region: str | None = None) -> None:
        self.endpoint = (endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).rstrip("/")
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
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http/https only)
                return self._decode(response.read())
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", errors="replace")
            decoded = self._decode(text.encode("utf-8"), strict=False)
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

    def reply(self, chat_id: int | str, text: str, *, user_id: int = 1) -> Any:
        return self.request("POST", f"/admin/chats/{quote(str(chat_id), safe='')}/messages",
                            body={"msg": text, "user_id": user_id})

    # -- deliveries -----------------------------------------------------------------------------------
    def list_deliveries(self, *, chat_id: int | str | None = None) -> Any:
        return self.request("GET", "/admin/deliveries", query={"chat_id": chat_id})

    def redrive_deliveries(self) -> Any:
        return self.request("POST", "/admin/deliveries/redrive")

    # -- documents ------------------------------------------------------------------------------------
    def apply(self, document: dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
        """Store a whole setup: REST APIs, then incoming webhooks, then outgoing webhooks.

        Accepts one incoming webhook spec (an object with ``identifier``), a list of them, or a document
        ``{"rest_apis": [...], "incoming_webhooks": [...], "webhooks": [...]}`` where REST APIs and
        outgoing webhooks carry their ``id``. Returns what was stored, in order, for the report.
        """
        if isinstance(document, list):
            document = {"incoming_webhooks": document}
        elif "identifier" in document:
            document = {"incoming_webhooks": [document]}
        unknown = set(document) - {"rest_apis", "incoming_webhooks", "webhooks"}
        if unknown:
            raise ApiError(0, f"unknown section(s) {sorted(unknown)}: expected rest_apis, incoming_webhooks, webhooks")
        applied = []
        for kind, put in (("rest_apis", self.put_rest_api), ("incoming_webhooks", None), ("webhooks", self.put_webhook)):
            for entry in document.get(kind) or []:
                if put is None:
                    stored = self.put_incoming_webhook(entry)
                    applied.append({"kind": "incoming webhook", "id": entry["identifier"], "stored": stored})
                    continue
                if "id" not in entry:
                    raise ApiError(0, f"every entry of {kind} needs an 'id'")
                applied.append({"kind": kind[:-1].replace("_", " "), "id": entry["id"],
                                "stored": put(entry["id"], entry)})
        return applied
