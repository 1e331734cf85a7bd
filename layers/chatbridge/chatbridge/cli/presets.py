"""``chatbridge presets list`` and ``chatbridge presets apply NAME --identifier ID [--set key=value ...]``.

``apply`` stores the REST API, then the incoming webhook (whose stored id the outgoing webhook's condition
names, as Live Helper Chat's guide does), then the outgoing webhook, through the admin API like
``webhooks apply``; re-applying updates the same three objects. It prints the URL to give the provider,
the ``chatbridge secrets set`` commands for the SSM secrets to create and the provider-side steps.

A spec carries the name of the preset that made it (``preset``): ``apply`` replaces a spec only when the same
preset made it, so ``--identifier`` naming another provider's webhook (or one written by hand) cannot turn it
and its chats into this provider's without ``--replace``.
"""

from __future__ import annotations

import argparse
from typing import Any

from chatbridge.cli._operator import (
    UsageError,
    add_operator_command,
    client_from,
    print_json,
    print_table,
    run_operator_command,
)
from chatbridge.cli.client import DEFAULT_ENDPOINT, ApiError, ChatbridgeClient


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("presets", help="ready-made setups for WhatsApp, Telegram, Twilio, Viber, Messenger")
    commands = parser.add_subparsers(dest="presets_command", required=True, metavar="{list,apply}")
    listing = commands.add_parser("list", help="show the presets and their parameters")
    listing.add_argument("--json", action="store_true", help="print the presets as JSON")
    listing.set_defaults(func=run_operator_command(_list))
    apply = add_operator_command(commands, "apply", help="store a preset's incoming webhook, REST API and outgoing webhook",
                                 run=_apply)
    apply.add_argument("name", help="preset name (see `chatbridge presets list`)")
    apply.add_argument("--identifier", required=True, help="URL part of the incoming webhook, e.g. telegram-bot")
    apply.add_argument("--set", dest="values", action="append", default=[], metavar="KEY=VALUE",
                       help="a preset parameter (repeat for each)")
    apply.add_argument("--replace", action="store_true",
                       help="overwrite an incoming webhook with this identifier that another preset or a person made")


def _list(args: argparse.Namespace) -> int:
    from chatbridge.presets import PRESETS

    if args.json:
        print_json([{"name": p.name, "provider": p.provider, "supports": p.supports, "ignores": p.ignores,
                     "parameters": [parameter.model_dump() for parameter in p.parameters]} for p in PRESETS.values()])
        return 0
    rows = [{"name": p.name, "provider": p.provider,
             "parameters": ", ".join(f"{q.name}{'*' if q.required else ''}" for q in p.parameters)}
            for p in PRESETS.values()]
    print_table(rows, [("name", "name"), ("provider", "provider"), ("parameters (* required)", "parameters")],
                empty="  (none)")
    print("\nchatbridge presets apply NAME --identifier ID --set KEY=VALUE ...   (--json lists what each supports)")
    return 0


def parse_values(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise UsageError(f"--set {pair!r}: write KEY=VALUE")
        if key.strip() in values:
            raise UsageError(f"--set {key.strip()} is given twice")
        values[key.strip()] = value
    return values


def _refuse_a_foreign_spec(client: ChatbridgeClient, identifier: str, preset: str) -> None:
    """Stop before anything is stored when the identifier names a spec this preset did not make: storing over
    it would silently re-map its chats to another provider. Re-applying the same preset stays allowed (that is
    how its parameters change)."""
    try:
        existing = client.get_incoming_webhook(identifier)
    except ApiError as error:
        if error.status == 404:
            return
        raise
    if not isinstance(existing, dict) or existing.get("preset") == preset:
        return
    made_by = f"by preset {existing['preset']}" if existing.get("preset") else "by hand (no preset)"
    raise UsageError(f"incoming webhook {identifier!r} already exists (id {existing.get('id')}, "
                     f"name {existing.get('name')!r}, scope {existing.get('scope') or '-'!r}), made {made_by}: "
                     f"applying preset {preset} would turn it and its chats into a {preset} webhook. "
                     "Choose another --identifier, or pass --replace to overwrite it")


def _apply(args: argparse.Namespace) -> int:
    from chatbridge.errors import PresetError
    from chatbridge.presets import build, get_preset

    client = client_from(args)
    try:
        setup = build(get_preset(args.name), identifier=args.identifier, values=parse_values(args.values),
                      webhook_base=client.endpoint)
    except PresetError as error:
        raise UsageError(str(error)) from None
    if not args.replace:
        _refuse_a_foreign_spec(client, setup.identifier, setup.preset)
    rest_api = client.put_rest_api(setup.rest_api_id, setup.rest_api)
    file_rest_apis = [client.put_rest_api(file_api["id"], file_api) for file_api in setup.file_rest_apis()]
    incoming = client.put_incoming_webhook(setup.incoming_webhook)
    iwh_id = incoming.get("id") if isinstance(incoming, dict) else None
    if not isinstance(iwh_id, int):
        raise UsageError(f"the API stored the incoming webhook but returned no integer id: {incoming!r}")
    webhook = client.put_webhook(setup.webhook_id, setup.outgoing_webhook(iwh_id))
    file_webhooks = [client.put_webhook(file_webhook["id"], file_webhook)
                     for file_webhook in setup.file_webhooks(iwh_id)]
    if args.json:
        print_json({"preset": setup.preset, "webhook_url": setup.webhook_url, "rest_api": rest_api,
                    "incoming_webhook": incoming, "webhook": webhook,
                    "file_rest_apis": file_rest_apis, "file_webhooks": file_webhooks,
                    "ssm_secrets": [secret.model_dump() for secret in setup.ssm_secrets], "setup": setup.setup})
        return 0
    print(f"applied REST API {setup.rest_api_id} ({setup.rest_api['method']} {setup.rest_api['url']})")
    print(f"applied incoming webhook {setup.identifier} (id {iwh_id})")
    print(f"applied outgoing webhook {setup.webhook_id}: operator replies in its chats -> {setup.rest_api_id}")
    for file_webhook in setup.file_webhooks(iwh_id):
        print(f"applied outgoing webhook {file_webhook['id']}: operator files "
              f"({' and '.join(file_webhook['conditions'][2:]) or 'any'}) -> {file_webhook['rest_api_id']}")
    print(f"\nWebhook URL to give {get_preset(args.name).provider}:\n  {setup.webhook_url}")
    if setup.ssm_secrets:
        endpoint = f" --endpoint {client.endpoint}" if client.endpoint != DEFAULT_ENDPOINT else ""
        print("\nCreate the secret(s) the replies read; `-` reads the value from stdin, so it stays out of your "
              "shell history\n(through the admin API: works on the local stack and on AWS alike):")
        for secret in setup.ssm_secrets:
            print(f"  chatbridge secrets set {secret.name} -{endpoint}   # {secret.description}")
        print("On AWS only, the AWS CLI does the same (SecureString, the stack's region):")
        for secret in setup.ssm_secrets:
            print(f"  aws ssm put-parameter --type SecureString --name {secret.name} --value '...'")
    print("\nOn the provider's side:")
    for step in setup.setup:
        print(f"  {step}")
    return 0
