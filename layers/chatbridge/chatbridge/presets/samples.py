"""Each preset's sample payloads: what its provider really posts, for the console's spec editor.

The files in ``samples/<provider>/`` are copied byte for byte from the project's shared captures
(``shared/payloads``, taken from public test fixtures and documentation); ``source`` names where each one
came from (``owner/repo@commit:path``), as ``shared/payloads/SOURCES.md`` does. They ship inside the
package because a Lambda function cannot read anything outside its layer. Statuses, receipts and echoes
are kept on purpose: an admin checking a spec wants to see them recognised as receipts, operator messages
or ignored, not only messages mapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

_COURIER = "nyaruka/courier@350e935007fd7e7cab689feee5ce97e326d49099:handlers/"
_PYWA = "david-lev/pywa@0bcf2f192ff3cf8ae24a425d85f4295e3cca7a62:tests/data/updates/"
_OPENWA = "open-wa/wa-automate-nodejs@66a021081aa5b3a51a2002785f1924a03a932ea7:apps/docs/content/docs/"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class Sample:
    """One captured request body; ``name`` is its file in ``samples/<directory>/``."""

    name: str
    title: str
    source: str

    @property
    def content_type(self) -> str:
        return FORM if self.name.endswith(".txt") else JSON


# preset name -> (folder under samples/, its samples: messages first, then what the preset ignores)
SAMPLES: dict[str, tuple[str, tuple[Sample, ...]]] = {
    "open-wa": ("openwa", (
        Sample("openwa_v5docs_incoming_text.json", "text message (bare message, v4 forwarder shape)",
               _OPENWA + "concepts/data-models.mdx (1st json block)"),
        Sample("openwa_v5docs_incoming_image.json", "image with caption and mediaData",
               _OPENWA + "concepts/data-models.mdx (3rd json block)"),
        Sample("openwa_v5docs_incoming_location.json", "location",
               _OPENWA + "reference/messaging.mdx"),
        Sample("openwa_v5docs_webhook_envelope_message_received.json", "v5 webhook envelope (payload.message)",
               _OPENWA + "client-and-integrations/webhook-payloads.mdx"),
        Sample("openwa_v5docs_outgoing_group_fromMe.json", "own message in a group, fromMe (from the business)",
               _OPENWA + "concepts/data-models.mdx (2nd json block)"),
    )),
    "whatsapp-cloud": ("whatsapp_cloud", (
        Sample("pywa_text.json", "text message", _PYWA + 'message.json key "text"'),
        Sample("courier_hello.json", "text message (display number with spaces)", _COURIER + "meta/testdata/wac/hello.json"),
        Sample("courier_image.json", "image with caption", _COURIER + "meta/testdata/wac/image.json"),
        Sample("courier_document.json", "document (PDF) with caption", _COURIER + "meta/testdata/wac/document.json"),
        Sample("courier_group_message.json", "message in a group", _COURIER + "meta/testdata/wac/group_message.json"),
        Sample("courier_duplicate.json", "two messages with the same id", _COURIER + "meta/testdata/wac/duplicate.json"),
        Sample("pywa_status_sent.json", "status: sent (receipt)", _PYWA + 'message_status.json key "sent"'),
        Sample("pywa_status_delivered.json", "status: delivered (receipt)", _PYWA + 'message_status.json key "delivered"'),
        Sample("pywa_status_read.json", "status: read (receipt)", _PYWA + 'message_status.json key "read"'),
        Sample("pywa_status_failed.json", "status: failed, with errors (receipt)", _PYWA + 'message_status.json key "failed"'),
        Sample("pywa_status_group.json", "status in a group (receipt)", _PYWA + 'message_status.json key "group"'),
        Sample("courier_valid_status.json", "status with contacts (receipt)", _COURIER + "meta/testdata/wac/valid_status.json"),
    )),
    "telegram": ("telegram", (
        Sample("courier_helloMsg.json", "text message", _COURIER + "telegram/handler_test.go var helloMsg"),
        Sample("courier_startMsg.json", "/start command", _COURIER + "telegram/handler_test.go var startMsg"),
        Sample("courier_photoMsg.json", "photo (4 sizes) with caption", _COURIER + "telegram/handler_test.go var photoMsg"),
        Sample("courier_documentMsg.json", "document", _COURIER + "telegram/handler_test.go var documentMsg"),
        Sample("courier_voiceMsg.json", "voice note", _COURIER + "telegram/handler_test.go var voiceMsg"),
        Sample("courier_stickerMsg.json", "sticker", _COURIER + "telegram/handler_test.go var stickerMsg"),
        Sample("courier_locationMsg.json", "location", _COURIER + "telegram/handler_test.go var locationMsg"),
        Sample("courier_contactMsg.json", "shared contact", _COURIER + "telegram/handler_test.go var contactMsg"),
    )),
    "twilio": ("twilio", (
        Sample("courier_receiveValid.txt", "SMS", _COURIER + "twiml/handlers_test.go receiveValid"),
        Sample("courier_receiveMediaWithMsg.txt", "MMS with text and 2 media", _COURIER + "twiml/handlers_test.go receiveMediaWithMsg"),
        Sample("courier_receiveBase64.txt", "SMS whose text looks like base64", _COURIER + "twiml/handlers_test.go receiveBase64"),
        Sample("courier_waReceiveValid.txt", "WhatsApp message", _COURIER + "twiml/handlers_test.go waReceiveValid"),
        Sample("courier_waReceiveButtonValid.txt", "WhatsApp quick-reply button", _COURIER + "twiml/handlers_test.go waReceiveButtonValid"),
        Sample("courier_statusValid.txt", "status: delivered (receipt)", _COURIER + "twiml/handlers_test.go statusValid"),
        Sample("courier_statusRead.txt", "status: read (receipt)", _COURIER + "twiml/handlers_test.go statusRead"),
        Sample("courier_statusStop.txt", "status: failed, opted out (receipt)", _COURIER + "twiml/handlers_test.go statusStop"),
    )),
    "viber": ("viber", (
        Sample("courier_validMsg.json", "text message", _COURIER + "viber/handler_test.go validMsg"),
        Sample("courier_validReceiveContact.json", "contact", _COURIER + "viber/handler_test.go validReceiveContact"),
        Sample("courier_validReceiveLocation.json", "location", _COURIER + "viber/handler_test.go validReceiveLocation"),
        Sample("courier_validSticker.json", "sticker", _COURIER + "viber/handler_test.go validSticker"),
        Sample("courier_deliveredStatusReport.json", "delivered (receipt)", _COURIER + "viber/handler_test.go deliveredStatusReport"),
        Sample("courier_failedStatusReport.json", "failed (receipt)", _COURIER + "viber/handler_test.go failedStatusReport"),
        Sample("courier_validConversationStarted.json", "conversation started (ignored)", _COURIER + "viber/handler_test.go validConversationStarted"),
        Sample("courier_validSubscribed.json", "subscribed (ignored)", _COURIER + "viber/handler_test.go validSubscribed"),
        Sample("courier_validUnsubscribed.json", "unsubscribed (ignored)", _COURIER + "viber/handler_test.go validUnsubscribed"),
        Sample("courier_webhookCheck.json", "webhook check on set_webhook (ignored)", _COURIER + "viber/handler_test.go webhookCheck"),
    )),
    "messenger": ("messenger", (
        Sample("courier_hello_msg.json", "text message", _COURIER + "meta/testdata/fba/hello_msg.json"),
        Sample("courier_attachment.json", "image attachment", _COURIER + "meta/testdata/fba/attachment.json"),
        Sample("courier_location_attachment.json", "location", _COURIER + "meta/testdata/fba/location_attachment.json"),
        Sample("courier_dlr.json", "delivery (receipt)", _COURIER + "meta/testdata/fba/dlr.json"),
        Sample("courier_echo.json", "echo of the page's own message (from the business)", _COURIER + "meta/testdata/fba/echo.json"),
    )),
}


def samples_of(preset: str) -> tuple[Sample, ...]:
    """The preset's samples, in the order to offer them; () for a preset without any."""
    return SAMPLES.get(preset, ("", ()))[1]


def body_of(preset: str, sample: Sample) -> str:
    """The sample's body as the provider sent it (UTF-8 text: JSON or form fields)."""
    directory = SAMPLES[preset][0]
    return files("chatbridge.presets").joinpath("samples", directory, sample.name).read_text(encoding="utf-8")
