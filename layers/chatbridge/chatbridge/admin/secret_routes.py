"""Admin routes for the SSM secrets replies and media fetches read, as a Powertools ``Router`` the admin
function includes: ``PUT /admin/secrets/{name+}``, ``GET /admin/secrets``, ``DELETE /admin/secrets/{name+}``.

They exist so a secret can be created the same way on the local stack (moto) and on AWS, through the admin
API and its IAM authorisation, instead of an ``aws ssm put-parameter`` that locally would reach a real
account. The URL carries the parameter's name without its leading slash
(``/admin/secrets/chatbridge/telegram-bot/token`` is ``/chatbridge/telegram-bot/token``). Values go in and
never come out: a write answers the name and version, a listing names, versions and dates.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatbridge.admin.http import BadRequest, invalid, json_body, new_router, not_found
from chatbridge.answers import answer
from chatbridge.outbound.text import SSM_PARAMETER_NAME, SSM_PREFIX

router = new_router()
MAX_VALUE_BYTES = 4096  # an SSM Standard parameter holds 4 KB
MAX_NAME_LENGTH = 1011  # SSM's limit for a name with its whole path
MAX_LEVELS = 15  # SSM's hierarchy depth limit


class SecretValue(BaseModel):
    """The body of ``PUT /admin/secrets/{name+}``."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, description=f"the secret, at most {MAX_VALUE_BYTES} bytes of UTF-8")

    @field_validator("value")
    @classmethod
    def _fits_ssm(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a secret cannot be blank")
        size = len(value.encode("utf-8", errors="surrogatepass"))
        if size > MAX_VALUE_BYTES:
            raise ValueError(f"a secret is at most {MAX_VALUE_BYTES} bytes (an SSM Standard parameter); "
                             f"this one is {size}")
        return value


def secret_name(path_part: str | None) -> str:
    """The parameter name a URL names, checked against the rule every ``{{ssm:...}}`` reference follows
    (``outbound_text.SSM_PARAMETER_NAME``: the functions may read only under ``/chatbridge/``), plus the shape
    SSM itself demands, so SSM never answers a validation error that would look like an outage."""
    name = "/" + (path_part or "").lstrip("/")
    shown = name if len(name) <= 80 else name[:77] + "..."
    if not SSM_PARAMETER_NAME.match(name):
        raise BadRequest(f"secret name {shown!r} must be {SSM_PREFIX}<name>, using letters, digits and _ . - / "
                         f"(e.g. {SSM_PREFIX}telegram-bot/token): the functions may read only under {SSM_PREFIX}")
    if "//" in name or name.endswith("/"):
        raise BadRequest(f"secret name {shown!r} has an empty path level ('//' or a trailing '/')")
    if len(name) > MAX_NAME_LENGTH or name.count("/") > MAX_LEVELS:
        raise BadRequest(f"secret name {shown!r} is longer than SSM allows "
                         f"({MAX_NAME_LENGTH} characters, {MAX_LEVELS} levels)")
    return name


def _path_name() -> str | None:
    """The ``{name+}`` path parameter; the part after ``/admin/secrets/`` when an event lacks it."""
    event = router.current_event
    name = (event.path_parameters or {}).get("name")
    return name if name is not None else event.path.partition("/admin/secrets/")[2]


@router.put("/admin/secrets/.+")
def put_secret() -> Response:
    from chatbridge.repository import secrets

    name = secret_name(_path_name())
    body = json_body(router.current_event)
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object: {"value": "..."}')
    try:
        value = SecretValue.model_validate(body).value
    except ValidationError as error:
        return invalid(error)
    try:
        version = secrets.put_secret(name, value)
    except secrets.SecretRefused as error:
        raise BadRequest(str(error)) from None
    return answer(201 if version == 1 else 200, {"status": "stored", "name": name, "version": version})


@router.get("/admin/secrets")
def list_secrets() -> Response:
    from chatbridge.repository import secrets

    found: list[dict[str, Any]] = secrets.list_secrets(SSM_PREFIX)
    return answer(200, {"secrets": found})


@router.delete("/admin/secrets/.+")
def delete_secret() -> Response:
    from chatbridge.repository import secrets

    name = secret_name(_path_name())
    if not secrets.delete_secret(name):
        return not_found("secret", name)
    return answer(200, {"status": "deleted", "name": name})
