"""Live Helper Chat Rest API export -> chatbridge REST APIs (one per method) and the outgoing webhooks that use them.

LHC exports a Rest API as ``{"name", "description", "configuration"}`` where ``configuration`` (JSON text) holds
``host`` and ``parameters``: the methods, each with its ``method``, ``suburl``, ``query``/``header`` lists,
authorization, a body (``body_raw`` with ``body_request_type_content``, or ``postparams``) and ``conditions``
that must hold before the call. In LHC a bot trigger decides which method an operator's reply calls; chatbridge's
outgoing webhook is that decision, so one is made for the method that sends replies (the only method, or the
one ``method`` names), on ``chat.web_add_msg_admin`` for the chats of the incoming webhook imported beside it (or
of a scope). What cannot come along is a warning naming the key. Pure: no I/O.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from chatbridge.errors import LhcImportError
from chatbridge.reply.rest_api import RestApi
from chatbridge.reply.webhooks import OutgoingWebhook

# LHC placeholders -> chatbridge's; urlencode_/raw_ prefixes are what chatbridge does by itself where they sit
_RENAMED = ((re.compile(r"\{\{\s*args\.chat\.incoming_chat\.incoming\.attributes\.([^{}\s]+)\s*\}\}"),
             r"{{incoming_webhook.attributes.\1}}"),
            (re.compile(r"\burlencode_(\{\{)"), r"\1"), (re.compile(r"\braw_(\{\{)"), r"\1"))
_CONTENT_TYPES = {"json": "application/json", "text": "text/plain", "js": "application/javascript",
                  "appxml": "application/xml", "textxml": "text/xml", "texthtml": "text/html"}
_OPERATORS = {"eq": "=", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "like": "like",
              "notlike": "notlike", "contains": "contains"}
# method keys read below, or empty-by-default keys whose LHC meaning chatbridge has anyway
_READ = {"id", "name", "method", "suburl", "query", "header", "authorization", "auth_username", "auth_password",
         "auth_bearer", "api_key_location", "auth_api_key_name", "auth_api_key_key", "body_request_type",
         "body_raw", "body_request_type_content", "postparams", "conditions", "max_execution_time", "$$hashKey"}
_WHY_NOT = {
    "output": "LHC parses the answer into bot triggers; chatbridge records the answer on the delivery "
              "(save_response_as_message keeps it as a message)",
    "userparams": "parameters a bot action fills in; chatbridge has no bot actions",
    "suburl_file": "operator files go through their own REST API and outgoing webhook in chatbridge",
    "body_raw_file": "operator files go through their own REST API and outgoing webhook in chatbridge",
    "split_into_parts": "a reply is sent as one request",
    "check_not_empty": "a reply is sent whatever it holds; add an outgoing webhook condition instead",
}
EVENT = "chat.web_add_msg_admin"


class LhcRestApiImport(BaseModel):
    """``rest_apis`` and ``webhooks`` as a ``webhooks apply`` document takes them, and what did not come along."""

    rest_apis: list[dict[str, Any]]
    webhooks: list[dict[str, Any]]
    warnings: list[str]


def is_rest_api_export(document: Any) -> bool:
    """An exported LHC Rest API (its configuration holds ``host``/``parameters``), not an incoming webhook."""
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    if not isinstance(document, dict):
        return False
    configuration = _configuration(document, strict=False)
    return "identifier" not in document and isinstance(configuration, dict) and "parameters" in configuration


def convert_rest_api(document: Any, *, identifier: str | None = None, scope: str | None = None,
                     method: str | None = None) -> LhcRestApiImport:
    """One exported Rest API -> REST APIs and the outgoing webhook for the method that sends replies.

    ``identifier`` is the incoming webhook imported beside it (the webhook fires for its chats), else ``scope``."""
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    if not isinstance(document, dict):
        raise LhcImportError("expected one exported Rest API: a JSON object")
    configuration = _configuration(document, strict=True)
    warnings: list[str] = []
    name = str(document.get("name") or "lhc-rest-api")
    host = str(configuration.get("host") or "")
    methods = [m for m in configuration.get("parameters") or [] if isinstance(m, dict)]
    if not methods:
        raise LhcImportError(f"Rest API {name!r} has no methods (configuration.parameters is empty)")
    for key in sorted(set(configuration) - {"host", "parameters"}):
        if _is_set(configuration[key]):
            warnings.append(f"{key}: not carried (chatbridge's REST APIs have no such setting)")
    rest_apis: list[tuple[dict[str, Any], dict[str, Any]]] = []
    used: set[str] = set()
    for position, item in enumerate(methods, 1):
        where = f"parameters[{position - 1}] ({item.get('name') or 'unnamed'})"
        rest_api_id = _unique(_slug(f"{name}-{item.get('name') or position}"), used)
        converted = _method(rest_api_id, name, host, item, where, warnings)
        if converted is not None:
            rest_apis.append((item, converted))
    chosen = _chosen(rest_apis, method, warnings)
    webhooks = []
    if chosen is not None:
        item, rest_api = chosen
        conditions = _rule_conditions(item, rest_api["id"], warnings)
        if identifier:
            conditions.insert(0, f"{{args.chat.incoming_chat.incoming.identifier}} = {identifier}")
        elif scope:
            conditions.insert(0, f"{{args.chat.incoming_chat.incoming.scope}} = {scope}")
        if identifier or scope:
            webhook = {"id": f"{rest_api['id']}-replies", "event": EVENT, "conditions": conditions,
                       "rest_api_id": rest_api["id"]}
            OutgoingWebhook.model_validate(webhook)
            webhooks.append(webhook)
        else:
            warnings.append(f"outgoing webhook: not made, since nothing says which chats reply through "
                            f"{rest_api['id']!r}: import it together with the incoming webhook export, or give "
                            "--scope (LHC's guide conditions it on {args.chat.incoming_chat.incoming.scope})")
    if not rest_apis:
        raise LhcImportError("no method of the Rest API could be imported: " + "; ".join(warnings))
    return LhcRestApiImport(rest_apis=[api for _, api in rest_apis], webhooks=webhooks, warnings=warnings)


def _configuration(document: dict[str, Any], *, strict: bool) -> Any:
    configuration = document.get("configuration", document if "parameters" in document else None)
    if isinstance(configuration, str):
        try:
            configuration = json.loads(configuration) if configuration.strip() else {}
        except ValueError as exc:
            if strict:
                raise LhcImportError(f"'configuration' is not JSON: {exc}") from None
            return None
    if strict and not (isinstance(configuration, dict) and isinstance(configuration.get("parameters", []), list)):
        raise LhcImportError("a Rest API export's 'configuration' must be an object with 'parameters' (a list)")
    return configuration


def _method(rest_api_id: str, name: str, host: str, item: dict[str, Any], where: str,
            warnings: list[str]) -> dict[str, Any] | None:
    headers = {str(h.get("key")).strip(): _renamed(str(h.get("value") or "")) for h in item.get("header") or []
               if isinstance(h, dict) and str(h.get("key") or "").strip()}
    query = {str(q.get("key")): _renamed(str(q.get("value") or "")) for q in item.get("query") or []
             if isinstance(q, dict) and str(q.get("key") or "").strip()}
    http_method = str(item.get("method") or "GET").upper()
    if http_method not in ("GET", "POST", "PUT", "DELETE"):
        warnings.append(f"{where}: method {http_method!r} is sent as GET by LHC; imported as GET")
        http_method = "GET"
    _authorization(item, headers, query, where, warnings)
    rest_api: dict[str, Any] = {"id": rest_api_id, "name": f"{name} {item.get('name') or ''}".strip()[:200],
                                "method": http_method, "url": _renamed(host.rstrip() + str(item.get("suburl") or "")),
                                "headers": headers, "query": query}
    body_type = str(item.get("body_request_type") or "")
    if body_type == "raw" and _is_set(item.get("body_raw")):
        content = str(item.get("body_request_type_content") or "")
        rest_api["body"] = _renamed(str(item["body_raw"]))
        if content in _CONTENT_TYPES and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = _CONTENT_TYPES[content]
        rest_api["body_format"] = "json" if content == "json" else "text"
    elif body_type in ("form-data", "form-data-urlencoded"):
        if body_type == "form-data":
            warnings.append(f"{where}: body_request_type form-data (multipart) is sent as "
                            "application/x-www-form-urlencoded, which most APIs read alike")
        pairs = [(str(p.get("key")), _renamed(str(p.get("value") or ""))) for p in item.get("postparams") or []
                 if isinstance(p, dict) and str(p.get("key") or "")]
        rest_api["body"] = "&".join(f"{quote(key, safe='')}={_form_value(value)}" for key, value in pairs)
        rest_api["body_format"] = "form"
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    if http_method == "GET":
        rest_api.pop("body", None)
        rest_api.pop("body_format", None)
    timeout = item.get("max_execution_time")
    if _is_set(timeout) and str(timeout).isdigit():
        rest_api["timeout"] = min(30, max(1, int(timeout)))
        if int(timeout) > 30:
            warnings.append(f"{where}: max_execution_time {timeout} s is cut to 30 s, the longest a reply may take")
    for key in sorted(set(item) - _READ):
        if _is_set(item[key]):
            warnings.append(f"{where}: {key}: {_WHY_NOT.get(key, 'unknown to chatbridge, not carried')}")
    if "sensitive_{{" in rest_api.get("body", "") or "direct_{{" in rest_api.get("body", ""):
        warnings.append(f"{where}: sensitive_/direct_ placeholder prefixes are LHC's; chatbridge renders them as "
                        "the plain value after the prefix's text")
    try:
        RestApi.model_validate(rest_api)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'rest api'}: "
                            f"{str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors(include_url=False))
        warnings.append(f"{where}: not imported ({reasons})")
        return None
    return rest_api


def _authorization(item: dict[str, Any], headers: dict[str, str], query: dict[str, str], where: str,
                   warnings: list[str]) -> None:
    kind = str(item.get("authorization") or "")
    secret_note = ("the export holds the secret itself: store it with `chatbridge secrets set /chatbridge/<name>` "
                   "and write {{ssm:/chatbridge/<name>}} in its place")
    if kind == "basicauth":
        user, password = str(item.get("auth_username") or ""), str(item.get("auth_password") or "")
        if "{{" in user + password:
            warnings.append(f"{where}: basic auth built from placeholders is not carried; set an Authorization header")
            return
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        warnings.append(f"{where}: authorization basicauth became an Authorization header; {secret_note}")
    elif kind == "bearer" and _is_set(item.get("auth_bearer")):
        headers["Authorization"] = f"Bearer {item['auth_bearer']}"
        warnings.append(f"{where}: authorization bearer became an Authorization header; {secret_note}")
    elif kind == "apikey" and _is_set(item.get("auth_api_key_name")):
        target = query if item.get("api_key_location") == "queryparams" else headers
        target[str(item["auth_api_key_name"])] = str(item.get("auth_api_key_key") or "")
        warnings.append(f"{where}: authorization apikey became a {'query parameter' if target is query else 'header'}"
                        f"; {secret_note}" + (" (in a header: query values are logged by proxies)"
                                              if target is query else ""))
    elif kind == "NTLMauth":
        warnings.append(f"{where}: authorization NTLMauth is not supported; not carried")


def _chosen(rest_apis: list[tuple[dict[str, Any], dict[str, Any]]], method: str | None,
            warnings: list[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    if method:
        for item, rest_api in rest_apis:
            if method in (str(item.get("name")), rest_api["id"]):
                return item, rest_api
        raise LhcImportError(f"--method {method!r}: no such method (methods: "
                             f"{', '.join(str(item.get('name')) for item, _ in rest_apis) or 'none imported'})")
    if len(rest_apis) == 1:
        return rest_apis[0]
    if rest_apis:
        warnings.append("outgoing webhook: not made: in LHC a bot trigger picks which of the methods ("
                        + ", ".join(str(item.get("name")) for item, _ in rest_apis)
                        + ") sends replies; name it with --method")
    return None


def _rule_conditions(item: dict[str, Any], rest_api_id: str, warnings: list[str]) -> list[str]:
    """LHC checks a method's ``conditions`` (``{{args.x}}`` op value) before calling it: rule clauses here."""
    clauses = []
    for condition in item.get("conditions") or []:
        if not isinstance(condition, dict):
            continue
        key = str(condition.get("key") or "").strip()
        operator = _OPERATORS.get(str(condition.get("success_condition") or ""))
        path = re.fullmatch(r"\{\{\s*(args\.[^{}\s]+|msg)\s*\}\}", key)
        if path is None or operator is None:
            warnings.append(f"{rest_api_id}: condition {condition!r} is not carried: only {{{{args.<path>}}}} or "
                            "{{msg}} compared with eq, neq, lt, lte, gt, gte, like, notlike or contains")
            continue
        left = "args.msg.msg" if path.group(1) == "msg" else path.group(1)
        clauses.append(f"{{{left}}} {operator} {condition.get('value', '')}".rstrip())
    return clauses


def _renamed(text: str) -> str:
    for pattern, replacement in _RENAMED:
        text = pattern.sub(replacement, text)
    return text


def _form_value(value: str) -> str:
    """A form field's value: literal text percent-encoded, placeholders kept (the REST API encodes their value)."""
    parts = re.split(r"(\{\{[^{}]*\}\})", value)
    return "".join(part if part.startswith("{{") else quote(part, safe="") for part in parts)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:100] or "lhc-rest-api"


def _unique(candidate: str, used: set[str]) -> str:
    name, n = candidate, 2
    while name in used:
        name, n = f"{candidate}-{n}", n + 1
    used.add(name)
    return name


def _is_set(value: Any) -> bool:
    return value not in (None, "", False, [], {}, 0, "0")
