"""API Gateway REST API (payload format 1.0) emulation: route matching, proxy events, proxy responses."""

from __future__ import annotations

import base64
import fnmatch
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from chatbridge.errors import ChatbridgeError
from chatbridge.local.template import ApiRoute, FunctionDef

_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml",
               "application/javascript", "+json", "+xml")


@dataclass(frozen=True)
class RouteMatch:
    route: ApiRoute
    function: FunctionDef
    path_parameters: dict[str, str]


class Router:
    """Matches a request to a template Api event; literal paths win over parameters, as in API Gateway."""

    def __init__(self, routes: Sequence[tuple[ApiRoute, FunctionDef]]) -> None:
        compiled = [(self._compile(route.path), route, fn) for route, fn in routes]
        # More literal characters first, greedy {proxy+} last: the most specific route wins.
        self._routes = sorted(compiled, key=lambda c: ("+}" in c[1].path, -len(re.sub(r"\{[^}]+\}", "", c[1].path))))

    @staticmethod
    def _compile(path: str) -> re.Pattern[str]:
        pattern = ""
        for part in re.split(r"(\{[^}]+\})", path.rstrip("/") or "/"):
            if part.startswith("{") and part.endswith("+}"):
                pattern += f"(?P<{_group(part[1:-2])}>.+)"
            elif part.startswith("{"):
                pattern += f"(?P<{_group(part[1:-1])}>[^/]+)"
            else:
                pattern += re.escape(part)
        return re.compile(f"^{pattern}/?$")

    def match(self, method: str, path: str) -> RouteMatch | None:
        for pattern, route, fn in self._routes:
            found = pattern.match(path)
            if found and route.method in (method.upper(), "ANY"):
                names = re.findall(r"\{([^}+]+)\+?\}", route.path)
                return RouteMatch(route, fn, {name: found.group(_group(name)) for name in names})
        return None

    def allowed_methods(self, path: str) -> list[str]:
        """The methods the template's routes take on this path (empty: no route has it), for a 405's ``Allow``."""
        return sorted({route.method for pattern, route, _ in self._routes if pattern.match(path)})


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _is_binary(content_type: str, body: bytes, binary_media_types: Sequence[str]) -> bool:
    media_type = content_type.split(";")[0].strip().lower()
    if binary_media_types and media_type and any(fnmatch.fnmatch(media_type, t.replace("~1", "/"))
                                                 for t in binary_media_types):
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return bool(media_type) and not any(t in media_type for t in _TEXT_TYPES) and not media_type.startswith("text")


def build_event(*, method: str, raw_path: str, headers: Sequence[tuple[str, str]], body: bytes,
                match: RouteMatch, stage: str, source_ip: str,
                binary_media_types: Sequence[str] = ()) -> dict[str, Any]:
    """The event API Gateway's Lambda proxy integration sends (REST API, payload format 1.0)."""
    url = urlsplit(raw_path)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value  # the last value wins, as in API Gateway
        multi_headers.setdefault(name, []).append(value)
    query_pairs = parse_qsl(url.query, keep_blank_values=True)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    binary = bool(body) and _is_binary(content_type, body, binary_media_types)
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    return {
        "resource": match.route.path,
        "path": url.path,
        "httpMethod": method.upper(),
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local", "resourcePath": match.route.path, "httpMethod": method.upper(),
            "extendedRequestId": request_id, "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{url.path}", "accountId": "123456789012", "protocol": "HTTP/1.1",
            "stage": stage, "domainPrefix": "localhost", "requestTimeEpoch": int(time.time() * 1000),
            "requestId": request_id, "domainName": single_headers.get("Host", "localhost"), "apiId": "local",
            "identity": {"sourceIp": source_ip, "userAgent": single_headers.get("User-Agent"),
                         "accountId": None, "caller": None, "user": None, "userArn": None,
                         "accessKey": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
                         "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None},
        },
        "body": (base64.b64encode(body).decode("ascii") if binary else body.decode("utf-8")) if body else None,
        "isBase64Encoded": binary,
    }


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MalformedResponse(ChatbridgeError, ValueError):
    """The handler's answer is not a proxy response; API Gateway answers 502 to the caller then."""


def parse_response(result: Any) -> ProxyResponse:
    if not isinstance(result, dict):
        raise MalformedResponse(f"the handler returned {type(result).__name__}, not a proxy response object")
    try:
        status = int(result.get("statusCode", 200))
    except (TypeError, ValueError) as exc:
        raise MalformedResponse(f"statusCode {result.get('statusCode')!r} is not a number") from exc
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    for name, value in (result.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    for name, values in multi.items():
        headers.extend((name, str(v)) for v in (values if isinstance(values, list) else [values]))
    body = result.get("body")
    if body is None:
        raw = b""
    elif result.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body)
        except ValueError as exc:
            raise MalformedResponse("isBase64Encoded is true but the body is not base64") from exc
    elif isinstance(body, str):
        raw = body.encode("utf-8")
    else:
        raise MalformedResponse("body must be a string")
    return ProxyResponse(status, headers, raw)
