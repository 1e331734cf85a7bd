"""Live Helper Chat incoming-webhook export -> chatbridge incoming webhook spec, and what could not come along.

LHC keeps a webhook's rules in a ``configuration`` JSON (``messages``, ``chat_id``, ``main_cond``,
``msg_cond``/``msg_body``, ``msg_cond_img``/``msg_img``...) inside a row that also holds ``name``,
``identifier``, ``scope``. The languages are chatbridge's own (locations, ``type=chat,image||fromMe=false``
conditions, ``{{msg.x}}`` bodies), so most keys carry over as they are; the rest (departments, operator
messages sent from the phone, delivery receipts, media downloads...) become warnings naming the key, so
nothing is dropped silently. Pure: no I/O. The key-by-key mapping is in docs/presets.md, "Importing from Live
Helper Chat".
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from chatbridge.errors import LhcImportError, SpecSyntaxError
from chatbridge.lang.conditions import EXISTS, compile_condition
from chatbridge.lang.locations import compile_location
from chatbridge.lang.templates import compile_template
from chatbridge.spec.model import IDENTIFIER_PATTERN, IncomingWebhookSpec

# configuration keys carried over one to one (LHC name -> spec field)
_SAME = {"messages": "messages", "chat_id": "chat_id", "phone": "phone", "email": "email", "time": "time",
         "message_id": "message_id", "chat_id_template": "chat_id_template"}
# keys whose LHC behaviour chatbridge has anyway
_IMPLICIT = {"message_direct", "message_id_uniq"}
_HANDLED = {"nick", "main_cond", "msg_cond", "msg_body", "msg_cond_img", "msg_img", "msg_cond_attachments",
            "msg_attachments", "chat_status", "reset_op", "attr"}
_TEXT_N = re.compile(r"^msg_(?:body|cond)_(\d+)$")
_BUTTON_N = re.compile(r"^msg_btn_(?:body|cond)_(\d+)$")
_NOT_CARRIED: tuple[tuple[str, str], ...] = (  # (key pattern, why), first match wins
    (r"^chat_id_2$|^chat_id_switch$", "a second chat id part (chat_id + '__' + chat_id_2) is not supported"),
    (r"^chat_id_preg_(rule|value)$", "rewriting the chat id with a regular expression is not supported: the chat id "
                                     "keeps its full value (check chat_id_template; a split step such as "
                                     "from||@||0 in chat_id can cut it)"),
    (r"^icon(_color)?$", "LHC's chat list icon; chatbridge has no UI of its own"),
    (r"^nick_pregmatch$", "a nick filter by regular expression is not supported; nicks are kept as found"),
    (r"^(ip|country_code)$", "chats have no IP address or country"),
    (r"^add_field(_2)?_value$", "chat variables iwh_field / iwh_field_2 are not filled"),
    (r"^message_id_reply$", "reply-to references are not stored"),
    (r"^reset_dep$|^dep_id$", "chatbridge has no departments"),
    (r"^msg_(cond_)?(img(_\d+)?_|attachments_)?(cond_)?op(_\d+)?$|^msg_cond_op(_\d+)?$|_op$",
     "not carried: chatbridge has one `operator` condition for every message (see the warning naming the kinds)"),
    (r"^msg_delivery_", "not carried: chatbridge takes receipts (sent, delivered, read, rejected), edits and reactions "
                        "with their id and condition set; deletions, un-reactions and *_global are not tracked"),
    (r"^msg_btn_(payload|cond_payload)_\d+$", "button payloads start bot triggers in LHC; chatbridge stores the "
                                              "button's text only"),
    (r"^msg_(cond_)?img_\d+$", "chatbridge has one image kind; only msg_cond_img/msg_img (or the first filled "
                               "msg_img_N) is imported"),
    (r"^(chat_id(_2)?_(name|list)|add_field_value_placeholder)$",
     "LHC's form for an operator starting a chat (push chat); chatbridge chats start with the third party"),
    (r"_op(_\d+)?_unread$", "LHC's unread flag for messages the operator sent from the phone; not carried"),
    (r"^msg_(img(_\d+)?|attachments)_base64$", "older LHC forms' 'base64 encoded content' flag: chatbridge fetches files "
                                            "by URL (a fetch), not from the payload's text"),
    (r"^msg_cond_(img(_\d+)?|attachments)_array$", "one file per message: chatbridge fetches the first, not a list"),
    (r"^msg_cond_(img(_\d+)?|attachments)_file_size$", "the file's size is checked as it is fetched (fetch.max_bytes)"),
    (r"^msg_(cond_)?(img(_\d+)?|attachments)_|^msg_(img(_\d+)?|attachments)_download$",
     "a media setting of a kind that is not imported, or one chatbridge's fetch has no place for "
     "(docs/specs.md, Media)"),
)
# LHC's media settings of one kind (msg_cond_<type>_*), imported into the kind's fetch
_MEDIA_SUFFIXES = ("_url_decode", "_url_decode_content", "_url_decode_output", "_url_headers_content",
                   "_url_remote_location", "_url_remote_headers_content", "_body", "_file_name", "_mime_type")
_WEBHOOK_ATTRIBUTE = re.compile(r"\{\{\s*msg\.incoming_webhook\.attributes\.([A-Za-z0-9_-]+)\s*\}\}")
_ROW_KEYS = {"configuration", "name", "identifier", "scope", "disabled", "log_incoming"}


class LhcImport(BaseModel):
    """The spec (validated) and everything the export held that it does not carry."""

    spec: dict[str, Any]
    warnings: list[str]


def _is_set(value: Any) -> bool:
    return value not in (None, "", False, [], {}, 0, "0")


def convert(document: Any, *, identifier: str | None = None) -> LhcImport:
    """Convert one exported incoming webhook (the row with ``configuration``, or the configuration alone)."""
    row, configuration = _split(document)
    warnings: list[str] = []
    spec: dict[str, Any] = _row_fields(row, identifier, warnings)
    spec.update(_configuration_fields(configuration, warnings))
    if "chat_id" not in spec:
        unusable = [w for w in warnings if w.startswith("chat_id:")]
        raise LhcImportError(f"the LHC configuration's chat_id cannot be converted: {unusable[-1]}" if unusable else
                             "the LHC configuration has no chat_id: chatbridge cannot tell chats apart without it")
    if not (spec.get("text") or spec.get("image") or spec.get("attachment")):
        raise LhcImportError("no message kind could be imported (msg_body, msg_img, msg_attachments): "
                             + ("; ".join(warnings) or "none is set"))
    try:
        IncomingWebhookSpec.model_validate(spec)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors(include_url=False))
        raise LhcImportError(f"the converted spec is not valid: {reasons}") from None
    return LhcImport(spec=spec, warnings=warnings)


def _split(document: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    if not isinstance(document, dict):
        raise LhcImportError("expected one exported incoming webhook: a JSON object (export one webhook at a time)")
    from chatbridge.reply.lhc_import import is_rest_api_export

    if is_rest_api_export(document):
        raise LhcImportError("this is an LHC Rest API export (host and methods), not an incoming webhook: "
                             "`chatbridge import-lhc` reads it into REST APIs and outgoing webhooks")
    if "configuration" not in document:
        if not {"chat_id", "messages", "msg_body", "main_cond"} & set(document):
            raise LhcImportError("this is neither an LHC incoming webhook (no 'configuration') nor its configuration "
                                 "(no chat_id, messages, msg_body or main_cond)")
        return {}, document
    configuration = document["configuration"]
    if isinstance(configuration, str):
        try:
            configuration = json.loads(configuration) if configuration.strip() not in ("", "[]") else {}
        except ValueError as exc:
            raise LhcImportError(f"'configuration' is not JSON: {exc}") from None
    if not isinstance(configuration, dict):
        raise LhcImportError("'configuration' must be a JSON object")
    return document, configuration


def _row_fields(row: dict[str, Any], identifier: str | None, warnings: list[str]) -> dict[str, Any]:
    identifier = identifier or str(row.get("identifier") or "")
    if not identifier:
        raise LhcImportError("no identifier: the export has none, give one with --identifier")
    if not re.match(IDENTIFIER_PATTERN, identifier):
        raise LhcImportError(f"identifier {identifier!r} must be 4-64 letters, digits, '-' or '_' "
                             "(choose another with --identifier)")
    spec: dict[str, Any] = {"identifier": identifier, "name": str(row.get("name") or identifier)[:200]}
    if _is_set(row.get("scope")):
        spec["scope"] = str(row["scope"])[:100]
    if _is_set(row.get("disabled")):
        spec["enabled"] = False
    if _is_set(row.get("log_incoming")):
        spec["log_requests"] = True
    if _is_set(row.get("id")):
        warnings.append(f"id {row['id']}: chatbridge assigns its own id when the spec is stored; outgoing webhook "
                        f"conditions such as {{args.chat.chat_variables_array.iwh_id}} = {row['id']} must name the "
                        "new one (or match {args.chat.incoming_chat.incoming.identifier} instead)")
    if _is_set(row.get("log_failed_parse")) and not _is_set(row.get("log_incoming")):
        warnings.append("log_failed_parse: chatbridge logs every request or none; set log_requests to true to debug")
    for key in sorted(set(row) - _ROW_KEYS - {"id", "log_failed_parse"}):
        if _is_set(row[key]):
            warnings.append(f"{key}: {_why_not(key)}")
    return spec


def _configuration_fields(conf: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for key, field in _SAME.items():
        if _is_set(conf.get(key)):
            value = str(conf[key]) if key == "chat_id_template" else _location(key, conf[key], warnings)
            if value is not None:
                spec[field] = value
    if _is_set(conf.get("messages")) and re.search(r"[.|$\[]", str(conf["messages"])):
        warnings.append(f"messages: LHC reads {conf['messages']!r} as one first-level key; chatbridge reads it as a "
                        "location (a path), which finds the same messages only if the payload nests them so")
    if _is_set(conf.get("nick")):
        nick = _location("nick", conf["nick"], warnings)
        if nick is not None:
            spec["nick"] = nick
            spec["nick_combine"] = "join"  # LHC joins every found part of a|||b with a space
    if _is_set(conf.get("main_cond")):
        condition = _condition("main_cond", conf["main_cond"], warnings)
        if condition is None:
            raise LhcImportError(f"main_cond {conf['main_cond']!r} cannot be converted; importing without it would "
                                 "accept payloads LHC refuses (see the warning above): " + warnings[-1])
        spec["conditions"] = condition
    attributes = _attributes(conf.get("attr"), warnings)
    if attributes:
        spec["attributes"] = attributes
    if _is_set(conf.get("chat_status")):
        spec["on_closed_chat"] = "active" if conf["chat_status"] == "active" else "pending"
    if _is_set(conf.get("reset_op")):
        spec["reset_operator"] = True
    consumed: set[str] = set()
    spec.update(_kinds(conf, attributes, warnings, consumed))
    provider_side, carried = _provider_side(conf, spec.get("messages", ""), warnings)
    spec.update(provider_side)
    for key in sorted(conf):
        if key in _SAME or key in _IMPLICIT or key in _HANDLED or _TEXT_N.match(key) or _BUTTON_N.match(key) \
                or key in consumed or key in carried:
            continue
        if _is_set(conf[key]) and not (key.startswith(("msg_cond_img_", "msg_img_")) and key in _used_image_keys(conf)):
            warnings.append(f"{key}: {_why_not(key)}")
    return spec


def _why_not(key: str) -> str:
    for pattern, why in _NOT_CARRIED:
        if re.search(pattern, key):
            return why
    return "unknown to chatbridge, not carried"


def _condition(key: str, text: Any, warnings: list[str], *, kind: bool = False) -> str | None:
    """LHC's clauses in chatbridge's language, with LHC's meaning where the language can say it.

    A clause without ``=`` (``isMedia``) means ``isMedia=__exists__``; LHC's ``__exists__`` fails on null (PHP's
    ``isset``), so it becomes ``x=__exists__||x!=null``. Where the meaning differs and cannot be written (PHP's
    loose ``==`` on true/false, ``!=``, a message kind's later ``__exists__`` overriding an earlier failure) the
    clause is kept and a warning says how."""
    clauses = [clause.strip() for clause in str(text).split("||") if clause.strip()]
    converted: list[str] = []
    for position, clause in enumerate(clauses):
        path, equals, value = clause.partition("=")
        path, value = path.strip(), value.strip()
        if not equals or value == EXISTS:
            converted += [f"{path}={EXISTS}", f"{path}!=null"]
            if kind and position > 0:
                warnings.append(f"{key}: in LHC a message that has {path} takes this kind even when an earlier "
                                "clause failed (its loop lets a found __exists__ win); chatbridge requires every clause")
            continue
        converted.append(clause)
        if "[" in path:
            warnings.append(f"{key}: LHC cuts {clause!r} at its first '=', so a list filter in a condition never "
                            "held there; imported with chatbridge's meaning")
        elif path.endswith("!"):
            warnings.append(f"{key}: LHC has no '!=': it looks for an attribute named {path!r}, so {clause!r} never "
                            "held there; imported with chatbridge's meaning (not equal)")
        elif hints := _loose_equality_hints(value):
            warnings.append(f"{key}: LHC compares {clause!r} with PHP's loose ==: {'; '.join(hints)}; chatbridge "
                            "compares text as text and JSON numbers by value (the same for JSON booleans and numbers)")
    result = "||".join(converted)
    try:
        compile_condition(result)
    except SpecSyntaxError as exc:
        warnings.append(f"{key}: condition {text!r} cannot be converted ({exc})")
        return None
    return result


def _loose_equality_hints(value: str) -> list[str]:
    """Where PHP's ``==`` on a clause's values matches what chatbridge's comparison does not (or the reverse)."""
    values = [part.strip() for part in value.split(",")]
    hints = []
    if "false" in values:
        hints.append("'false' there also matches 0, '' and '0', and not the text 'false'")
    if "true" in values:
        hints.append("'true' there matches any non-empty value, and not the text 'true'")
    if "" in values:
        hints.append("an empty value there also matches false")
    numbers = [v for v in values if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", v)]
    if numbers:
        hints.append("a number there also matches numeric text of the same value ('1.0', '01')"
                     + (", and 0 matches false" if any(float(v) == 0 for v in numbers) else ""))
    return hints


def _php_int(text: str) -> int:
    """PHP's ``(int)`` cast of a split index: leading spaces and sign, then digits; anything else is 0."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def _location(key: str, text: Any, warnings: list[str]) -> str | None:
    """An LHC location in chatbridge's language, with LHC's split meaning: one ``||SEP||N`` step (more are
    ignored), N as PHP reads it (``x`` is 0), a negative N keeps the whole value. None when it cannot be read."""
    alternatives = []
    for alternative in str(text).split("|||"):
        pieces = alternative.split("||")
        path = pieces[0].strip()
        if len(pieces) >= 3 and pieces[1] == "":
            warnings.append(f"{key}: {alternative!r} splits by an empty separator, which fails in LHC; the split "
                            "step is left out")
        elif len(pieces) >= 3:
            separator, index = pieces[1], pieces[2].strip()
            if len(pieces) > 3:
                warnings.append(f"{key}: LHC uses one split step only; {'||'.join(pieces[3:])!r} after "
                                f"{path}||{separator}||{index} is left out, as LHC ignores it")
            if index != "last":
                number = _php_int(index)
                if str(number) != index:
                    warnings.append(f"{key}: LHC reads the split index {index!r} as {number}; imported so")
                if number < 0:
                    warnings.append(f"{key}: split index {number} keeps the whole value in LHC; imported without "
                                    "the split step")
                    alternatives.append(path)
                    continue
                index = str(number)
            path = f"{path}||{separator}||{index}"
        elif len(pieces) == 2:
            warnings.append(f"{key}: {alternative!r} has a separator but no index, so LHC does not split; imported "
                            "without the split step")
        alternatives.append(path)
    location = "|||".join(alternatives)
    try:
        compile_location(location)
    except SpecSyntaxError as exc:
        warnings.append(f"{key}: {text!r} cannot be converted ({exc}); not imported")
        return None
    return location


def _attributes(value: Any, warnings: list[str]) -> dict[str, str]:
    """LHC stores attributes as ``[{"key": k, "value": v}, ...]``; a plain object is accepted too."""
    if not _is_set(value):
        return {}
    pairs = value.items() if isinstance(value, dict) else \
        [(item.get("key"), item.get("value")) for item in value if isinstance(item, dict)] if isinstance(value, list) \
        else []
    attributes = {str(k).strip(): "" if v is None else str(v) for k, v in pairs if k is not None and str(k).strip()}
    if not attributes:
        warnings.append(f"attr: {value!r} holds no key/value pairs")
    return attributes


def _used_image_keys(conf: dict[str, Any]) -> set[str]:
    source = _image_source(conf)
    return {f"msg_cond_img{source}", f"msg_img{source}"} if source is not None else set()


def _image_source(conf: dict[str, Any]) -> str | None:
    """LHC has msg_img and msg_img_2..6; chatbridge one image kind: the first with a condition and a body."""
    for suffix in ["", *(f"_{n}" for n in range(2, 7))]:
        if _is_set(conf.get(f"msg_cond_img{suffix}")) and _is_set(conf.get(f"msg_img{suffix}")):
            return suffix
    return None


def _kinds(conf: dict[str, Any], attributes: dict[str, str], warnings: list[str],
           consumed: set[str]) -> dict[str, Any]:
    """In LHC's order: attachments, images, text 2..N, buttons 1..N, then msg_body (the default)."""
    kinds: dict[str, Any] = {}
    attachment = _kind("msg_cond_attachments", "msg_attachments", conf, attributes, warnings, needs_condition=True)
    if attachment:
        kinds["attachment"] = _with_fetch("attachments", attachment, conf, attributes, warnings, consumed)
    source = _image_source(conf)
    if source != "" and (_is_set(conf.get("msg_cond_img")) or _is_set(conf.get("msg_img"))):
        _kind("msg_cond_img", "msg_img", conf, attributes, warnings, needs_condition=True)  # says why not
    if source is not None:
        image = _kind(f"msg_cond_img{source}", f"msg_img{source}", conf, attributes, warnings, needs_condition=True)
        if image:
            kinds["image"] = _with_fetch(f"img{source}", image, conf, attributes, warnings, consumed)
    text = []
    for prefix in ("msg_body_", "msg_btn_body_"):
        cond_prefix = "msg_cond_" if prefix == "msg_body_" else "msg_btn_cond_"
        numbers = sorted({int(m.group(1)) for key in conf if (m := re.match(rf"^(?:{prefix}|{cond_prefix})(\d+)$", key))})
        for n in numbers:
            kind = _kind(f"{cond_prefix}{n}", f"{prefix}{n}", conf, attributes, warnings, needs_condition=True)
            if kind:
                text.append(kind)
    default = _kind("msg_cond", "msg_body", conf, attributes, warnings, needs_condition=False)
    if default:
        text.append(default)
    if text:
        kinds["text"] = text
    return kinds


def _kind(cond_key: str, body_key: str, conf: dict[str, Any], attributes: dict[str, str], warnings: list[str], *,
          needs_condition: bool) -> dict[str, str] | None:
    """One kind, or None (with a warning when something was set but cannot work)."""
    body, condition = conf.get(body_key), conf.get(cond_key)
    if not _is_set(body):
        if _is_set(condition):
            warnings.append(f"{cond_key}: has no {body_key}, so LHC stores nothing for it; not imported")
        return None
    if needs_condition and not _is_set(condition):
        warnings.append(f"{body_key}: LHC uses it only when {cond_key} is set, and it is empty; not imported")
        return None
    kind: dict[str, Any] = {"conditions": "", "body": _body(body_key, str(body), warnings)}
    if _is_set(condition):
        converted = _condition(cond_key, condition, warnings, kind=True)
        if converted is None:
            warnings[-1] += f"; {body_key} not imported"
            return None
        kind["conditions"] = converted
    try:
        compile_template(kind["body"], attributes)
    except SpecSyntaxError as exc:
        warnings.append(f"{body_key}: body {body!r} cannot be converted ({exc}); not imported")
        return None
    return kind


def _body(key: str, body: str, warnings: list[str]) -> str:
    """A body's ``{{msg.a||@||0}}`` / ``{{msg.a|||b}}``: LHC's bodies have neither (it looks for a key named
    ``a||@||0`` and renders nothing), chatbridge's have both; kept with chatbridge's meaning and a warning, the
    split index read as ``_location`` reads it so the body is never lost to it."""
    def placeholder(match: re.Match[str]) -> str:
        location = match.group(1).strip()
        if "||" not in location:
            return match.group(0)
        warnings.append(f"{key}: LHC renders {match.group(0)} as nothing (its bodies have no split steps or "
                        "alternatives); chatbridge splits / picks the alternative")
        converted = _location(key, location, warnings)
        return match.group(0) if converted is None else "{{msg." + converted + "}}"

    return re.sub(r"\{\{\s*msg\.([^{}]*)\}\}", placeholder, body)


def _with_fetch(media: str, kind: dict[str, Any], conf: dict[str, Any], attributes: dict[str, str],
                warnings: list[str], consumed: set[str]) -> dict[str, Any]:
    """The kind with the fetch LHC's media settings describe (``msg_cond_<media>_*``, ``msg_<media>_download``).

    LHC writes the stored file's markup into the message at ``msg_cond_<media>_body`` (a key such as ``body``)
    before rendering the kind's body, so ``{{msg.body}}`` there is where the file goes: it becomes
    ``{{file_url}}``. ``_url_decode`` is a request whose JSON answer holds the file as a data URL (open-wa's
    ``decryptMedia``) or, with ``_url_remote_location``, the URL to download; ``_download`` downloads the URL
    found at ``_body``."""
    key = f"msg_cond_{media}"
    # LHC lends the request templates the webhook itself as msg.incoming_webhook: its attributes are chatbridge's
    setting = {suffix: _WEBHOOK_ATTRIBUTE.sub(r"{{attributes.\1}}", str(conf.get(key + suffix) or "").strip())
               for suffix in _MEDIA_SUFFIXES}
    download_key = f"msg_{media}_download"
    decode, download = setting["_url_decode"], _is_set(conf.get(download_key))
    if not decode and not download:
        if setting["_body"]:
            warnings.append(f"{key}_body: without {key}_url_decode or {download_key} LHC reads a base64 file at "
                            f"{setting['_body']!r}; chatbridge fetches files by URL only; not carried")
            consumed.add(key + "_body")
        return kind
    fetch: dict[str, Any] = {}
    if decode:
        request = {"url": decode, "method": "POST" if setting["_url_decode_content"] else "GET"}
        if setting["_url_decode_content"]:
            request["body"] = setting["_url_decode_content"]
        headers = _header_lines(key + "_url_headers_content", setting["_url_headers_content"], warnings)
        if headers:
            request["headers"] = headers
        location = setting["_url_decode_output"].split("||")[0].strip()
        if _is_set(conf.get(key + "_url_remote_location")):  # the answer names the file's URL
            fetch = {"resolve": {**request, "location": location or "url"}, "url": "{{resolved}}",
                     "headers": _header_lines(key + "_url_remote_headers_content",
                                              setting["_url_remote_headers_content"], warnings)}
            if "||" in setting["_url_decode_output"]:
                warnings.append(f"{key}_url_decode_output: the '||' template after the location is not carried; "
                                "the URL is used as the answer gives it")
        else:
            fetch = {**request, "response": "data_url", "location": location}
        if download:
            warnings.append(f"{download_key}: LHC uses {key}_url_decode instead when both are set; so does the import")
    else:
        body_location = _location(key + "_body", setting["_body"], warnings) if setting["_body"] else None
        if not body_location:
            warnings.append(f"{download_key}: needs {key}_body, the location of the file's URL; not carried")
            return kind
        fetch = {"url": "{{msg." + body_location + "}}",
                 "headers": _header_lines(key + "_url_headers_content", setting["_url_headers_content"], warnings)}
    fetch = {name: value for name, value in fetch.items() if value not in ("", {}, None)}
    if setting["_file_name"]:
        fetch["filename"] = "{{msg." + setting["_file_name"] + "}}"
    if setting["_mime_type"]:
        fetch["content_type"] = "{{msg." + setting["_mime_type"] + "}}"
    body = str(kind["body"])
    if setting["_body"]:
        placeholder = re.compile(r"\{\{\s*msg\." + re.escape(setting["_body"]) + r"\s*\}\}")
        found = placeholder.findall(body)
        if len(found) > 1:
            warnings.append(f"{key}_body: {found[0]} appears {len(found)} times; the file's link takes the first, the "
                            "others keep the payload's value")
        body = placeholder.sub("{{file_url}}", body, count=1)
    candidate = {**kind, "body": body, "fetch": fetch}
    try:  # the fetch's templates are compiled against the attributes when the whole spec is
        IncomingWebhookSpec.model_validate({"identifier": "lhc-check", "name": "check", "chat_id": "x",
                                            "attributes": attributes, "attachment": candidate})
    except (ValidationError, SpecSyntaxError) as exc:
        reason = exc.errors(include_url=False)[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        warnings.append(f"{key}: the media settings cannot become a fetch ({reason}); the kind is imported "
                        "without one, so its files are not stored")
        return kind
    consumed.update(key + suffix for suffix in _MEDIA_SUFFIXES if setting[suffix])
    consumed.update({key + "_url_remote_location", download_key} & set(conf))
    return candidate


def _header_lines(key: str, text: str, warnings: list[str]) -> dict[str, str]:
    """LHC's headers, one ``Name: value`` per line."""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if not line.strip():
            continue
        if not colon or not name.strip():
            warnings.append(f"{key}: {line!r} is not 'Name: value'; left out")
            continue
        headers[name.strip()] = value.strip()
    return headers


# -- what the provider says besides visitor messages: operator messages (msg_cond_op*) and msg_delivery_* ----

_OPERATOR_KEY = re.compile(r"^msg_cond(?:_\d+|_img(?:_\d+)?|_attachments)?_op$|^msg_cond_op(?:_\d+)?$")
_RECEIPT_STATES = {"sent": "sent", "delivered": "delivered", "read": "read", "rejected": "failed"}


def _provider_side(conf: dict[str, Any], messages: str, warnings: list[str]) -> tuple[dict[str, Any], set[str]]:
    """``operator``, ``receipts``, ``edits`` and ``reactions`` from LHC's keys, and the keys they carried.

    LHC tests a kind's ``*_op`` condition only on messages of that kind; chatbridge has one ``operator``
    condition for every message, so one distinct condition is carried (with a warning when LHC had it on some
    kinds only) and differing ones are not. LHC reads receipts among the webhook's messages: the receipt kinds'
    ``items`` are the spec's ``messages``."""
    fields: dict[str, Any] = {}
    carried: set[str] = set()
    operator_keys = sorted(key for key in conf if _OPERATOR_KEY.match(key) and _is_set(conf[key]))
    converted = {key: _condition(key, conf[key], warnings) for key in operator_keys}
    distinct = {value for value in converted.values() if value is not None}
    if len(distinct) == 1:
        fields["operator"] = distinct.pop()
        carried.update(key for key, value in converted.items() if value is not None)
        if len(operator_keys) > 1 or "msg_cond_op" not in operator_keys:
            warnings.append(f"{', '.join(operator_keys)}: chatbridge tests one operator condition on every message, "
                            "not per kind as LHC does")
    elif distinct:
        warnings.append(f"{', '.join(operator_keys)}: the kinds' operator conditions differ; chatbridge has one "
                        "`operator` condition for every message: set it by hand")
    receipts = []
    for status, state in _RECEIPT_STATES.items():
        keys = {part: f"msg_delivery_{status}_{part}" for part in ("id", "condition", "chat_id", "chat_id_2")}
        if not (_is_set(conf.get(keys["id"])) and _is_set(conf.get(keys["condition"]))):
            continue
        condition = _condition(keys["condition"], conf[keys["condition"]], warnings)
        if condition is None:
            continue
        receipts.append({"items": messages, "conditions": condition, "message_id": str(conf[keys["id"]]),
                         "state": state})
        carried.update(key for key in keys.values() if key in conf)  # chatbridge finds the reply by its id alone
    if receipts:
        fields["receipts"] = receipts
    edit_id, edit_condition, edit_text = (conf.get(f"msg_delivery_edited_{part}") for part in ("id", "condition",
                                                                                                "location"))
    if _is_set(edit_id) and _is_set(edit_condition) and _is_set(edit_text):
        condition = _condition("msg_delivery_edited_condition", edit_condition, warnings)
        if condition is not None:
            fields["edits"] = {"conditions": condition, "message_id": str(edit_id), "body": "{{msg." + str(edit_text)
                               + "}}"}
            carried.update(f"msg_delivery_edited_{part}" for part in ("id", "condition", "location", "chat_id",
                                                                      "chat_id_2"))
    reaction_id, reaction_condition, emoji = (conf.get(f"msg_delivery_reaction_{part}") for part in (
        "id", "condition", "location"))
    if _is_set(reaction_id) and _is_set(reaction_condition) and _is_set(emoji):
        condition = _condition("msg_delivery_reaction_condition", reaction_condition, warnings)
        if condition is not None:
            fields["reactions"] = {"conditions": condition, "message_id": str(reaction_id), "reaction": str(emoji)}
            carried.update(f"msg_delivery_reaction_{part}" for part in ("id", "condition", "location", "chat_id",
                                                                        "chat_id_2", "remove_prev", "action_id"))
    return fields, carried
