"""What text a request chatbridge sends out (an operator reply, a media fetch) may carry: one rule for both.

The SSM path is part of the security contract: the functions' IAM policies let them read parameters under
``/chatbridge/`` only, so a reference outside it is refused when it is saved, not when a reply fails.
"""

from __future__ import annotations

import re
from typing import Any

HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # an RFC 9110 token
SSM_PREFIX = "/chatbridge/"
SSM_PARAMETER_NAME = re.compile(r"^/chatbridge/[A-Za-z0-9_.\-/]{1,1000}$")
# What one URL path segment may hold unencoded (RFC 3986 pchar), so Telegram's ``123:AAE...`` token survives;
# a secret is encoded the same way wherever it sits.
PATH_SEGMENT_SAFE = ":@!$&'()*+,;="


def header_problem(name: str, value: str) -> str | None:
    """Why a header cannot be sent as written, or None: a name that is no token, or a line break in the value
    (which would let text inject a header). REST APIs and media fetches both check their headers with it."""
    if not HEADER_NAME.match(name):
        return f"{name!r} is not a valid header name"
    if "\r" in value or "\n" in value:
        return f"{name}: line breaks are not allowed in header values"
    return None


def upper_method(value: Any) -> Any:
    """HTTP methods are taken in any case (``post``) and stored upper-case: a ``BeforeValidator`` for the
    method fields of REST APIs and media fetches."""
    return value.upper() if isinstance(value, str) else value
