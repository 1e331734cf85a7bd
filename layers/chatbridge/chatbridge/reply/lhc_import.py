"""Live Helper Chat Rest API export -> chatbridge REST APIs (one per method) and the outgoing webhooks that use them.

LHC exports a Rest API as ``{"name", "description", "configuration"}`` where ``configuration`` (JSON text) holds
``host`` and ``parameters``: the methods, each with its ``method``, ``suburl``, ``query``/``header`` lists,
authorization, a body (``body_raw`` with ``body_request_type_content``, or ``postparams``) and ``conditions``
that must hold before the call. In LHC a bot trigger decides which method an operator's reply calls; chatbridge's
outgoing webhook is that decision, so one is made for the method that sends replies (the only method, or the
one ``method`` names), on ``chat.web_add_msg_admin`` for the chats of the incoming webhook imported beside it (or
of a scope). What cannot come along is a warning naming the key. Pure: no I/O.

A method's file variant (``suburl_file`` + ``body_raw_file``) is how LHC sends an operator's file: when the reply
carries one file and no text (or ``body_raw_file`` has ``{{msg_clean}}`` for the text, and the file's extension
is not in ``suburl_file_skip_ext``), LHC calls ``host + suburl_file`` with ``body_raw_file`` instead of the text
request, picking the ``{image_api}`` (JPEG, PNG, GIF), ``{video_api}`` (MP4), ``{file_api}`` (the rest) or
``{api_by_ext__ext1_ext2}`` block of both; a block left empty sends that file as text (its link in ``{{msg_url}}``).
Here that decision is rule clauses over ``args.file``: the file REST APIs get outgoing webhooks with
``{args.file.url} notempty`` and what picks the block, the text REST API one with ``{args.file.url} empty`` and
one for each case LHC sends as text, so every reply takes exactly one way, as in LHC.
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
            (re.compile(r"\burlencode_(\{\{)"), r"\1"), (re.compile(r"\braw_(\{\{)"), r"\1"),
            (re.compile(r"\{\{\s*file_mime\s*\}\}"), "{{file_type}}"))
_CONTENT_TYPES = {"json": "application/json", "text": "text/plain", "js": "application/javascript",
                  "appxml": "application/xml", "textxml": "text/xml", "texthtml": "text/html"}
_OPERATORS = {"eq": "=", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "like": "like",
              "notlike": "notlike", "contains": "contains"}
# method keys read below, or empty-by-default keys whose LHC meaning chatbridge has anyway
_READ = {"id", "name", "method", "suburl", "query", "header", "authorization", "auth_username", "auth_password",
         "auth_bearer", "api_key_location", "auth_api_key_name", "auth_api_key_key", "body_request_type",
         "body_raw", "body_request_type_content", "postparams", "conditions", "max_execution_time", "$$hashKey",
         "position",  # position: the method's place in LHC's editor
         "suburl_file", "body_raw_file", "suburl_file_skip_ext", "suburl_file_convert"}  # the file variant (_files)
_WHY_NOT = {
    "output": "LHC parses the answer into bot triggers; chatbridge records the answer on the delivery "
              "(save_response_as_message keeps it as a message)",
    "userparams": "parameters a bot action fills in; chatbridge has no bot actions",
    "split_into_parts": "a reply is sent as one request",
    "check_not_empty": "a reply is sent whatever it holds; add an outgoing webhook condition instead",
    "check_word": "a reply is sent whatever it holds; add an outgoing webhook condition instead",
    "switch_form_data": "LHC then uploads the file's bytes as multipart form data; chatbridge sends a file by its "
                        "URL (the file variant, suburl_file + body_raw_file)",
    "remote_message_id": "where the answer holds the sent message's id; not carried by the import",
    "http_protocol": "the HTTP version is the dispatcher's (HTTP/1.1)",
    "polling_n_times": "LHC's polling for a bot answer; a reply is one request",
    "polling_n_delay": "LHC's polling for a bot answer; a reply is one request",
    "polling_no_delay_first": "LHC's polling for a bot answer; a reply is one request",
    "streaming_request": "streamed answers feed LHC's bots; a reply reads one answer",
    "streaming_event_type_field": "streamed answers feed LHC's bots; a reply reads one answer",
    "streaming_sse_start": "streamed answers feed LHC's bots; a reply reads one answer",
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
            why = {"log_audit": "every call is recorded as a delivery", "log_code": "every call is recorded as a delivery",
                   "log_system": "every call is recorded as a delivery", "ecache": "answers are not cached"}.get(
                key, "chatbridge's REST APIs have no such setting")
            warnings.append(f"{key}: not carried ({why})")
    rest_apis: list[tuple[dict[str, Any], dict[str, Any]]] = []
    plans: dict[str, _FilePlan] = {}
    used: set[str] = set()
    for position, item in enumerate(methods, 1):
        where = f"parameters[{position - 1}] ({item.get('name') or 'unnamed'})"
        rest_api_id = _unique(_slug(f"{name}-{item.get('name') or position}"), used)
        converted = _method(rest_api_id, name, host, item, where, warnings)
        if converted is not None:
            rest_apis.append((item, converted))
            plans[rest_api_id] = _file_plan(converted, host, item, where, used, warnings)
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
            webhooks = _webhooks(rest_api["id"], conditions, plans[rest_api["id"]])
        else:
            warnings.append(f"outgoing webhook: not made, since nothing says which chats reply through "
                            f"{rest_api['id']!r}: import it together with the incoming webhook export, or give "
                            "--scope (LHC's guide conditions it on {args.chat.incoming_chat.incoming.scope})")
    if not rest_apis:
        raise LhcImportError("no method of the Rest API could be imported: " + "; ".join(warnings))
    return LhcRestApiImport(rest_apis=[each for _, api in rest_apis for each in (api, *plans[api["id"]].rest_apis)],
                            webhooks=webhooks, warnings=warnings)


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
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
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
    reasons = _refusals(rest_api)
    if reasons:
        warnings.append(f"{where}: not imported ({reasons})")
        return None
    return rest_api


def _refusals(rest_api: dict[str, Any]) -> str | None:
    """Why chatbridge's REST API model refuses an imported definition (its errors in one line), or ``None``."""
    try:
        RestApi.model_validate(rest_api)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'rest api'}: "
                         f"{str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors(include_url=False))
    return None


class _FilePlan(BaseModel):
    """A method's file variant: the REST APIs it became, and which replies take which (``None``: the text one).

    ``regions`` are disjoint sets of rule clauses that together cover every reply, so exactly one webhook
    fires for each, as exactly one request leaves LHC."""

    rest_apis: list[dict[str, Any]]
    regions: list[tuple[list[str], str | None]]


_TEXT_ONLY = _FilePlan(rest_apis=[], regions=[([], None)])
FILE_ABSENT, FILE_PRESENT = "{args.file.url} empty", "{args.file.url} notempty"
CAPTION_ABSENT, CAPTION_PRESENT = "{args.file.caption} empty", "{args.file.caption} notempty"
_TYPE_BLOCKS = ("image_api", "video_api", "file_api")  # LHC's order: the first whose types hold picks
_BLOCK_TYPES = {"image_api": ("image/jpeg", "image/png", "image/gif"), "video_api": ("video/mp4",)}
_BY_EXT = re.compile(r"\{api_by_ext__(.*?)\}(.*?)\{/api_by_ext\}", re.DOTALL)
_FILE_BODY = re.compile(r"\{\{\s*(file_body|body_raw)\s*\}\}")
_AS_TEXT = "these files are sent as their link in the text reply ({{msg_url}})"


def _file_plan(text_api: dict[str, Any], host: str, item: dict[str, Any], where: str, used: set[str],
               warnings: list[str]) -> _FilePlan:
    """``suburl_file`` + ``body_raw_file`` -> file REST APIs and the regions of replies each takes (module doc)."""
    suburl, body = str(item.get("suburl_file") or ""), str(item.get("body_raw_file") or "")
    if not suburl.strip() or not body.strip():
        return _TEXT_ONLY  # LHC uses the variant only with both set; its {{file_*}} still fill the text request
    body_type = str(item.get("body_request_type") or "")
    if text_api["method"] != "GET" and body_type != "raw":
        warnings.append(f"{where}: body_raw_file with body_request_type {body_type or 'unset'}: LHC posts its "
                        f"fields as multipart form data, which chatbridge does not send; {_AS_TEXT}")
        return _TEXT_ONLY
    converted = {kind.strip() for kind in str(item.get("suburl_file_convert") or "").split(",") if kind.strip()}
    extensions = list(dict.fromkeys(ext for block in _BY_EXT.finditer(body) for ext in block.group(1).split("_")
                                    if ext))
    not_by_extension = [f"{{args.file.name}} notlike *.{ext}" for ext in extensions]
    # (rule clauses over args.file, the block LHC names it by for suburl_file_convert, URL, body, empty body = text)
    cases: list[tuple[list[str], str, str, str, bool]] = []
    for ext in extensions:
        used_block = [b.group(1) for b in _BY_EXT.finditer(body) if ext in b.group(1).split("_")][-1]
        cases.append(([f"{{args.file.name}} like *.{ext}"], used_block, _variant(suburl, None, ext),
                      _variant(body, None, ext), False))
    groups: dict[tuple[str, str, bool], list[str]] = {}
    for kind in _TYPE_BLOCKS:
        groups.setdefault((_variant(suburl, kind), _variant(body, kind), kind in converted), []).append(kind)
    for (url, variant, _), kinds in groups.items():
        cases.append(([*not_by_extension, *_type_conditions(kinds)], ",".join(kinds), url, variant, not variant))
    has_caption = "{{msg_clean}}" in body  # LHC's own test (strpos)
    skipped = [ext for ext in str(item.get("suburl_file_skip_ext") or "").replace(" ", "").lower().split(",") if ext]
    made: dict[tuple[str, str], str | None] = {}
    rest_apis: list[dict[str, Any]] = []
    regions: list[tuple[list[str], str | None]] = [([FILE_ABSENT], None)]
    for conditions, block, url, variant, as_text in cases:
        target = None
        if not as_text:
            if set(block.split(",")) & converted:
                warnings.append(f"{where}: suburl_file_convert {block}: LHC uploads these files' bytes as multipart "
                                f"form data, which chatbridge does not send; {_AS_TEXT}")
            elif (url, variant) in made:
                target = made[(url, variant)]
            else:
                target = _file_rest_api(text_api, host, url, variant, block, where, used, warnings)
                made[(url, variant)] = target
                if target is not None:
                    rest_apis.append(target)
        base = [FILE_PRESENT, *conditions]
        target_id = target["id"] if isinstance(target, dict) else target
        if target_id is None:
            regions.append((base, None))
        elif not has_caption:  # a file with text: LHC sends the text request, the link in {{msg_url}}
            regions += [([*base, CAPTION_ABSENT], target_id), ([*base, CAPTION_PRESENT], None)]
        elif skipped:  # a caption LHC may not put beside these extensions: the text request
            regions += [([*base, CAPTION_ABSENT], target_id),
                        ([*base, CAPTION_PRESENT, *(f"{{args.file.name}} notlike *.{ext}" for ext in skipped)],
                         target_id)]
            regions += [([*base, CAPTION_PRESENT, f"{{args.file.name}} like *.{ext}"], None) for ext in skipped]
        else:
            regions.append((base, target_id))
    if not rest_apis:
        return _TEXT_ONLY
    return _FilePlan(rest_apis=rest_apis, regions=regions)


def _variant(text: str, keep: str | None, extension: str | None = None) -> str:
    """LHC's block choice in ``suburl_file``/``body_raw_file``: ``keep``'s type block, or ``extension``'s blocks."""
    for kind in _TYPE_BLOCKS:
        if kind != keep:
            text = re.sub("\\{" + kind + "\\}.*?\\{/" + kind + "\\}", "", text, flags=re.DOTALL)
    if extension is None:
        text = _BY_EXT.sub("", text).replace("{" + str(keep) + "}", "").replace("{/" + str(keep) + "}", "")
    else:
        text = _BY_EXT.sub(lambda m: m.group(2) if extension in m.group(1).split("_") else "", text)
    return text.strip()


def _type_conditions(kinds: list[str]) -> list[str]:
    """Clauses over ``args.file.type`` for files LHC sends with these type blocks (``file_api``: the rest)."""
    if "file_api" in kinds:
        return [f"{{args.file.type}} != {media_type}" for kind in ("image_api", "video_api") if kind not in kinds
                for media_type in _BLOCK_TYPES[kind]]
    types = [media_type for kind in kinds for media_type in _BLOCK_TYPES[kind]]
    return [f"{{args.file.type}} = {types[0]}"] if len(types) == 1 else [f"{{args.file.type}} in {','.join(types)}"]


def _file_rest_api(text_api: dict[str, Any], host: str, url: str, body: str, block: str, where: str,
                   used: set[str], warnings: list[str]) -> dict[str, Any] | None:
    """The text method's REST API with the file variant's URL and body; None (warned) when it cannot be one."""
    what = "file variant" + ("" if block == ",".join(_TYPE_BLOCKS) else f" ({block})")
    if _FILE_BODY.search(body):
        warnings.append(f"{where}: {what}: {_FILE_BODY.search(body).group(0)} (the file's bytes as a data URL) is "
                        f"not carried: chatbridge sends a file by its URL ({{{{file_url}}}}); {_AS_TEXT}")
        return None
    suffix = "" if block == ",".join(_TYPE_BLOCKS) else "-" + _slug(block.replace(",", "-").replace("_api", ""))
    rest_api = {**text_api, "id": _unique(f"{text_api['id']}-file{suffix}"[:128], used),
                "name": f"{text_api['name']} file{suffix.replace('-', ' ')}"[:200],
                "url": _renamed(host.rstrip() + url), "headers": dict(text_api["headers"]),
                "query": dict(text_api["query"])}
    if "body" in rest_api:
        rest_api["body"] = _renamed(body)
    reasons = _refusals(rest_api)
    if reasons:
        warnings.append(f"{where}: {what} not imported ({reasons}); {_AS_TEXT}")
        return None
    return rest_api


def _webhooks(rest_api_id: str, base: list[str], plan: _FilePlan) -> list[dict[str, Any]]:
    """One outgoing webhook per region of the method's replies: ``-replies`` (text), ``-files`` (a file API)."""
    webhooks, counts = [], {"replies": 0, "files": 0}
    for conditions, target in plan.regions:
        kind = "replies" if target is None else "files"
        counts[kind] += 1
        webhook = {"id": f"{rest_api_id}-{kind}" + ("" if counts[kind] == 1 else f"-{counts[kind]}"), "event": EVENT,
                   "conditions": [*base, *conditions], "rest_api_id": target or rest_api_id}
        OutgoingWebhook.model_validate(webhook)
        webhooks.append(webhook)
    return webhooks


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
