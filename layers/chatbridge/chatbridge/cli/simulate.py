"""``chatbridge simulate``: what a spec makes of a payload, without touching AWS.

Exit 0 and the mapping as JSON on stdout; exit 2 and the reason on stderr for a spec or payload that
cannot be read. Without ``--content-type`` the payload is sniffed: a body starting with ``{`` or ``[`` is
JSON, anything else is form-encoded (Twilio, Vonage).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chatbridge.errors import PayloadError
from chatbridge.ingest.payload import FORM, decode_body
from chatbridge.spec.mapping import map_payload
from chatbridge.spec.model import IncomingWebhookSpec


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("simulate", help="show the chats and messages a spec makes of a payload")
    parser.add_argument("--spec", required=True, type=Path, help="incoming webhook spec (JSON, or YAML)")
    parser.add_argument("--payload", required=True, help="request body file ('-' reads stdin)")
    parser.add_argument("--content-type", help="request Content-Type (default: JSON if the body starts with "
                                               "{ or [, else form-encoded)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec)
        body = sys.stdin.buffer.read() if args.payload == "-" else Path(args.payload).read_bytes()
    except OSError as exc:
        return _fail(f"cannot read {exc.filename}: {exc.strerror}")
    except ValueError as exc:  # includes pydantic's ValidationError
        return _fail(str(exc))
    try:
        payload = decode_body(body, content_type=args.content_type or sniff_content_type(body))
    except PayloadError as exc:
        return _fail(f"payload {args.payload}: {exc} (HTTP {exc.status})")
    print(json.dumps(map_payload(spec, payload).to_document(), ensure_ascii=False, indent=2))
    return 0


def load_spec(path: Path) -> IncomingWebhookSpec:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return IncomingWebhookSpec.model_validate(yaml.safe_load(text))
        return IncomingWebhookSpec.model_validate_json(text)
    except ValidationError as exc:
        raise ValueError(f"spec {path} is not valid:\n{describe_validation_error(exc)}") from None
    except Exception as exc:  # YAML syntax errors
        raise ValueError(f"spec {path} cannot be read: {exc}") from None


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "spec"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


def sniff_content_type(body: bytes) -> str:
    return "application/json" if body.lstrip()[:1] in (b"{", b"[") or not body.strip() else FORM


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
