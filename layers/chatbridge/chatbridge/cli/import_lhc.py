"""``chatbridge import-lhc FILE [FILE...] [--identifier ID] [--scope S] [--method M] [-o OUT.json] [--json]``:
Live Helper Chat exports as chatbridge definitions.

Each file is an LHC incoming webhook export or a Rest API export (``lhc_restapi_*.json``); the kind is read
from the content. One incoming webhook alone gives its spec (as before); with a Rest API export the output is a
whole setup, ``{"rest_apis", "incoming_webhooks", "webhooks"}``, which ``chatbridge webhooks apply -f`` stores
in one step. Each key that could not be carried over is a ``warning:`` line on stderr (prefixed by its file
when there are several), or, with ``--json``, the ``warnings`` list beside the result. Exit 0 when something
was written (with or without warnings), 2 when an export cannot become one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    # the alias is the module's name, which the CLI registry (and its test) expects as a command
    parser = subparsers.add_parser("import-lhc", aliases=["import_lhc"],
                                   help="convert Live Helper Chat exports (incoming webhook, Rest API) to chatbridge")
    parser.add_argument("files", type=Path, nargs="+", metavar="file",
                        help="an exported incoming webhook (the row with 'configuration', or the configuration "
                             "alone) or Rest API (JSON); '-' reads stdin")
    parser.add_argument("--identifier", help="identifier of the new spec (default: the export's)")
    parser.add_argument("--scope", help="without an incoming webhook export: the scope whose chats reply through "
                                        "the Rest API (LHC's {args.chat.incoming_chat.incoming.scope} condition)")
    parser.add_argument("--method", help="the Rest API method that sends operator replies, when it has several")
    parser.add_argument("-o", "--output", type=Path, help="write the result here instead of stdout")
    parser.add_argument("--json", action="store_true", help='print {"spec" or "document": ..., "warnings": [...]}')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatbridge.errors import LhcImportError

    documents = []
    for path in args.files:
        try:
            text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
            documents.append((path, json.loads(text)))
        except OSError as exc:
            return _fail(f"cannot read {path}: {exc.strerror or exc}")
        except ValueError as exc:
            return _fail(f"{path} is not JSON: {exc}")
    try:
        key, result, warnings = _convert(documents, args)
    except LhcImportError as exc:
        return _fail(str(exc))
    output = {key: result, "warnings": warnings} if args.json else result
    rendered = json.dumps(output, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        try:
            args.output.write_text(rendered, encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    else:
        sys.stdout.write(rendered)
    if not args.json:
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
    if args.output:
        what = f"spec {result['identifier']}" if key == "spec" else ", ".join(
            f"{len(result[section])} {section.replace('_', ' ')}" for section in ("rest_apis", "incoming_webhooks",
                                                                                 "webhooks"))
        print(f"wrote {args.output}: {what} ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})",
              file=sys.stderr)
        if key == "document":
            print(f"store it with: chatbridge webhooks apply -f {args.output}", file=sys.stderr)
    return 0


def _convert(documents: list[tuple[Path, Any]], args: argparse.Namespace) -> tuple[str, Any, list[str]]:
    """("spec", the spec, warnings) for one incoming webhook alone, else ("document", a setup, warnings)."""
    from chatbridge.errors import LhcImportError
    from chatbridge.reply.lhc_import import convert_rest_api, is_rest_api_export
    from chatbridge.spec.lhc_import import convert

    rest_exports = [(path, document) for path, document in documents if is_rest_api_export(document)]
    incoming_exports = [(path, document) for path, document in documents if not is_rest_api_export(document)]
    if len(incoming_exports) > 1:
        raise LhcImportError(f"{', '.join(str(path) for path, _ in incoming_exports)}: one incoming webhook export "
                             "at a time (import each into its own file)")
    named = len(documents) > 1

    def prefixed(path: Path, warnings: list[str]) -> list[str]:
        return [f"{path}: {warning}" for warning in warnings] if named else warnings

    def failing(path: Path, exc: LhcImportError) -> LhcImportError:
        return LhcImportError(f"{path}: {exc}") if named else exc

    warnings: list[str] = []
    spec = None
    if incoming_exports:
        path, document = incoming_exports[0]
        try:
            imported = convert(document, identifier=args.identifier)
        except LhcImportError as exc:
            raise failing(path, exc) from None
        spec, warnings = imported.spec, prefixed(path, imported.warnings)
    if not rest_exports:
        if args.scope or args.method:
            raise LhcImportError("--scope and --method apply to a Rest API export, and none was given")
        return "spec", spec, warnings
    document: dict[str, Any] = {"rest_apis": [], "incoming_webhooks": [spec] if spec else [], "webhooks": []}
    for path, export in rest_exports:
        try:
            imported_api = convert_rest_api(export, identifier=spec["identifier"] if spec else None,
                                            scope=args.scope, method=args.method)
        except LhcImportError as exc:
            raise failing(path, exc) from None
        document["rest_apis"] += imported_api.rest_apis
        document["webhooks"] += imported_api.webhooks
        warnings += prefixed(path, imported_api.warnings)
        if spec:
            warnings += prefixed(path, _host_attributes_unset(imported_api.rest_apis, spec))
    return "document", document, warnings


def _host_attributes_unset(rest_apis: list[dict[str, Any]], spec: dict[str, Any]) -> list[str]:
    """A REST API whose host is a spec attribute the imported spec does not set fails every reply: say so now."""
    import re

    warnings = []
    for rest_api in rest_apis:
        match = re.match(r"\{\{\s*incoming_webhook\.attributes\.([^\s{}]+?)\s*\}\}", rest_api["url"])
        if match and not str(spec.get("attributes", {}).get(match.group(1)) or "").startswith(("http://", "https://")):
            warnings.append(f"{rest_api['id']}: its URL takes the host from attribute {match.group(1)!r}, which the "
                            f"incoming webhook {spec['identifier']!r} does not set to an http(s) URL: replies fail "
                            "until it does")
    return warnings


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
