"""Admin routes for provider presets: list them with their parameters, apply one (``presets apply``'s
counterpart, so the console can set up a provider from a form instead of a terminal).

Each preset also carries its provider's sample payloads (``chatbridge.presets.samples``): the listing names
them, ``GET /admin/presets/{name}/samples`` gives their bodies, for the console's spec editor.

Applying stores what the CLI stores (REST API, incoming webhook, outgoing webhook), through the same
models, and refuses, as the CLI does, to replace a spec another preset or a person made unless
``replace`` is true (409 naming it). Secrets are never taken here: the answer names the SSM parameters the
replies read, which ``PUT /admin/secrets/{name}`` creates.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatbridge.admin.http import invalid, json_body, new_router, not_found
from chatbridge.answers import answer

router = new_router()


class PresetApplication(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(min_length=1, max_length=64)
    values: dict[str, str] = Field(default_factory=dict, max_length=50)
    replace: bool = False
    webhook_base: str | None = Field(None, max_length=2048, pattern=r"^https?://[^\s]+$",
                                     description="the API's base URL as the provider reaches it (the console "
                                                 "sends its own); default: this request's host")


def _parameter_document(parameter: Any) -> dict[str, Any]:
    return {"name": parameter.name, "description": parameter.description, "required": parameter.required,
            "default": parameter.default, "example": parameter.example, "secret": parameter.kind == "ssm",
            "kind": parameter.kind}


def _sample_document(sample: Any) -> dict[str, Any]:
    return {"name": sample.name, "title": sample.title, "source": sample.source, "content_type": sample.content_type}


@router.get("/admin/presets")
def list_presets() -> Response:
    from chatbridge.presets import PRESETS
    from chatbridge.presets.samples import samples_of

    return answer(200, {"presets": [
        {"name": preset.name, "provider": preset.provider, "supports": preset.supports, "ignores": preset.ignores,
         "parameters": [_parameter_document(p) for p in preset.parameters],
         "samples": [_sample_document(s) for s in samples_of(preset.name)]} for preset in PRESETS.values()]})


@router.get("/admin/presets/<name>/samples")
def list_preset_samples(name: str) -> Response:
    """The provider's captured payloads with their bodies (text, as the provider sent them)."""
    from chatbridge.presets import PRESETS
    from chatbridge.presets.samples import body_of, samples_of

    if name not in PRESETS:
        return not_found("preset", name)
    return answer(200, {"preset": name, "samples": [
        {**_sample_document(sample), "body": body_of(name, sample)} for sample in samples_of(name)]})


def _webhook_base() -> str:
    event = router.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    host = headers.get("host", "localhost")
    local = host.split(":")[0] in ("127.0.0.1", "localhost", "[::1]")
    scheme = headers.get("x-forwarded-proto") or ("http" if local else "https")
    stage = (event.request_context.stage or "") if "execute-api" in host else ""
    return f"{scheme}://{host}" + (f"/{stage}" if stage else "")


@router.post("/admin/presets/<name>/apply")
def apply_preset(name: str) -> Response:
    from chatbridge.errors import PresetError
    from chatbridge.presets import PRESETS, build
    from chatbridge.reply.rest_api import RestApi
    from chatbridge.reply.webhooks import OutgoingWebhook
    from chatbridge.repository import outgoing, specs
    from chatbridge.spec.model import IncomingWebhookSpec

    preset = PRESETS.get(name)
    if preset is None:
        return not_found("preset", name)
    body = json_body(router.current_event)
    if not isinstance(body, dict):
        return answer(400, {"status": "error", "reason": "the body must be a JSON object"})
    try:
        request = PresetApplication.model_validate(body)
    except ValidationError as error:
        return invalid(error)
    try:
        setup = build(preset, identifier=request.identifier, values=request.values,
                      webhook_base=request.webhook_base or _webhook_base())
    except PresetError as error:
        return answer(422, {"status": "invalid", "reason": str(error),
                            "errors": [{"field": "values", "reason": str(error)}]})
    existing = specs.get_spec(setup.identifier)
    if existing is not None and not request.replace and existing.preset != setup.preset:
        made_by = f"by preset {existing.preset}" if existing.preset else "by hand (no preset)"
        return answer(409, {"status": "conflict", "reason": (
            f"incoming webhook {setup.identifier!r} already exists (id {existing.id}, name {existing.name!r}), "
            f"made {made_by}: applying {setup.preset} would turn it and its chats into a {setup.preset} webhook; "
            "choose another identifier or set replace")})
    outgoing.put_rest_api(RestApi.model_validate(setup.rest_api))
    for file_api in setup.file_rest_apis():
        outgoing.put_rest_api(RestApi.model_validate(file_api))
    stored, _ = specs.save_spec(IncomingWebhookSpec.model_validate(setup.incoming_webhook))
    webhook = OutgoingWebhook.model_validate(setup.outgoing_webhook(stored.id))
    outgoing.put_webhook(webhook)
    for file_webhook in setup.file_webhooks(stored.id):
        outgoing.put_webhook(OutgoingWebhook.model_validate(file_webhook))
    return answer(200, {"status": "applied", "preset": setup.preset, "identifier": setup.identifier,
                        "incoming_webhook_id": stored.id, "rest_api_id": setup.rest_api_id,
                        "webhook_id": setup.webhook_id, "webhook_url": setup.webhook_url,
                        "file_webhook_ids": [w["id"] for w in setup.file_webhooks(stored.id)],
                        "secrets": [{"name": s.name, "parameter": s.parameter, "description": s.description}
                                    for s in setup.ssm_secrets],
                        "setup": setup.setup})
