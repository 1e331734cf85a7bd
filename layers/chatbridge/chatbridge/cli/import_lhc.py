"""``chatbridge import-lhc FILE [--identifier ID] [-o OUT.json] [--json]``: a Live Helper Chat incoming
webhook export as a chatbridge spec.

The spec goes to stdout (or ``-o``); each key that could not be carried over is a ``warning:`` line on
stderr, or, with ``--json``, the ``warnings`` list beside the spec. Exit 0 when a spec was written (with
or without warnings), 2 when the export cannot become one.
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
                                   help="convert a Live Helper Chat incoming webhook export to a spec")
    parser.add_argument("file", type=Path, help="the exported webhook (JSON: the row with 'configuration', or the "
                                                "configuration alone); '-' reads stdin")
    parser.add_argument("--identifier", help="identifier of the new spec (default: the export's)")
    parser.add_argument("-o", "--output", type=Path, help="write the spec here instead of stdout")
    parser.add_argument("--json", action="store_true", help='print {"spec": ..., "warnings": [...]}')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatbridge.errors import LhcImportError
    from chatbridge.spec.lhc_import import convert

    try:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
        document = json.loads(text)
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror or exc}")
    except ValueError as exc:
        return _fail(f"{args.file} is not JSON: {exc}")
    try:
        imported = convert(document, identifier=args.identifier)
    except LhcImportError as exc:
        return _fail(str(exc))
    output = imported.model_dump() if args.json else imported.spec
    rendered = json.dumps(output, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        try:
            args.output.write_text(rendered, encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    else:
        sys.stdout.write(rendered)
    if not args.json:
        for warning in imported.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    if args.output:
        print(f"wrote {args.output}: spec {imported.spec['identifier']} "
              f"({len(imported.warnings)} warning{'s' if len(imported.warnings) != 1 else ''})", file=sys.stderr)
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
