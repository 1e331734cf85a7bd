"""The operator console: static files on ``GET /console`` and ``GET /console/{proxy+}``.

Served by the same REST API as ``/admin`` so the page and the API share an origin: no CORS, and the host
a browser signs (SigV4) is the host API Gateway checks. ``site/`` is a link to the repository's
``console/`` folder; ``sam build`` copies what a link points at, so the files ship with this function.

``config.json`` is not a file: it tells the page how to sign in. On the local stack (which sets
``CHATBRIDGE_LOCAL_URL``) the admin API is open, so ``{"auth": "none"}``; on AWS the Cognito ids come
from the SSM parameter template.yaml writes (``CONSOLE_CONFIG_PARAMETER``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SITE = Path(__file__).resolve().parent / "site"
# Text only: binary files would need BinaryMediaTypes on the API (icons are inline SVG).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8",
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _csp(region: str) -> str:
    """Scripts only from the console itself; fetches to the API and, on AWS, to Cognito and to S3 (an operator's
    file over 4 MiB is PUT to the presigned URL the admin API answers: the media bucket's virtual-hosted names)."""
    cognito = f" https://cognito-idp.{region}.amazonaws.com https://cognito-identity.{region}.amazonaws.com" \
              f" https://*.auth.{region}.amazoncognito.com" if region else ""
    s3 = f" https://*.s3.amazonaws.com https://*.s3.{region}.amazonaws.com" if region else ""
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; "
            f"connect-src 'self'{cognito}{s3}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
            f"{cognito}")


def _response(status: int, body: str, content_type: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    region = "" if os.environ.get("CHATBRIDGE_LOCAL_URL") else os.environ.get("AWS_REGION", "")
    headers = {"Content-Type": content_type, "Cache-Control": "no-cache", "Content-Security-Policy": _csp(region),
               **SECURITY_HEADERS, **(extra or {})}
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


def _not_found(reason: str) -> dict[str, Any]:
    return _response(404, json.dumps({"status": "not_found", "reason": reason}), "application/json")


def console_config() -> dict[str, Any]:
    """How the page signs in: nothing locally, Cognito hosted login + identity pool credentials on AWS."""
    if os.environ.get("CHATBRIDGE_LOCAL_URL"):
        return {"auth": "none", "local": True}
    from chatbridge.repository.console_config import read_console_config

    return {"auth": "cognito", **read_console_config(os.environ["CONSOLE_CONFIG_PARAMETER"])}


def site_file(relative: str) -> Path | None:
    """The file under ``site/`` a URL names, or None: no dot segments, no hidden files, nothing outside."""
    parts = [part for part in relative.split("/") if part]
    if not parts:
        parts = ["index.html"]
    if any(part in (".", "..") or part.startswith(".") or "\\" in part or "\0" in part for part in parts):
        return None
    candidate = SITE.joinpath(*parts)
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_file() or not resolved.is_relative_to(SITE.resolve()):
        return None
    return resolved


def lambda_handler(event: dict, context: Any) -> dict[str, Any]:
    if (event.get("httpMethod") or "GET") not in ("GET", "HEAD"):
        return _not_found("the console only answers GET")
    path = event.get("path") or "/console"
    relative = ((event.get("pathParameters") or {}).get("proxy") or "")
    if not relative and not path.endswith("/"):
        # Relative links (app.js, ../admin/) must resolve inside /console/, with or without a stage prefix.
        return _response(301, "", "text/plain", {"Location": "console/"})
    if relative == "config.json":
        try:
            return _response(200, json.dumps(console_config()), "application/json")
        except Exception:  # noqa: BLE001 - a broken deployment must show as such, not as a bare 502
            logger.exception("console config unavailable")
            return _response(503, json.dumps({"status": "unavailable",
                                              "reason": "console sign-in settings are unavailable"}),
                             "application/json")
    found = site_file(relative)
    if found is None or found.suffix not in CONTENT_TYPES:
        return _not_found(f"no console file {relative[:100]!r}")
    return _response(200, found.read_text(encoding="utf-8"), CONTENT_TYPES[found.suffix])
