"""Each preset's parameters for tests, its providers' sample folder, and how a sample is read and mapped."""

from chatbridge.ingest.payload import decode_body
from chatbridge.presets import build, get_preset
from chatbridge.spec.model import IncomingWebhookSpec
from support.paths import PAYLOADS

FORM = "application/x-www-form-urlencoded"
BASE = "https://chat.example.com/Prod"
PARAMETERS = {
    "open-wa": {"base_url": "https://wa.example.com/", "secret": "open-wa-secret-0123456789"},
    "whatsapp-cloud": {"phone_number_id": "106540352242922", "app_secret": "0123456789abcdef0123456789abcdef",
                       "verify_token": "change-me"},
    "telegram": {"secret": "tg-secret"},
    "twilio": {"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "0123456789abcdef0123456789abcdef"},
    "viber": {"auth_token": "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"},
    "messenger": {"app_secret": "0123456789abcdef0123456789abcdef", "verify_token": "change-me"},
}
DIRECTORY = {"open-wa": "openwa", "whatsapp-cloud": "whatsapp_cloud", "telegram": "telegram", "twilio": "twilio",
             "viber": "viber", "messenger": "messenger"}



def setup_of(name, **overrides):
    return build(get_preset(name), identifier=f"{name}-test", values={**PARAMETERS[name], **overrides},
                 webhook_base=BASE)


def spec_of(name):
    return IncomingWebhookSpec.model_validate(setup_of(name).incoming_webhook)


def load(directory, file):
    path = PAYLOADS / directory / file
    return decode_body(path.read_bytes(), content_type=FORM if path.suffix == ".txt" else "application/json")


def preset_spec(name, *, identifier, **changes):
    """The preset's incoming webhook spec (the one canonical spec of its provider) as a document to store,
    under ``identifier`` and with ``changes`` (``verification=None`` for a test that posts unsigned)."""
    return {**setup_of(name).incoming_webhook, "identifier": identifier, **changes}
