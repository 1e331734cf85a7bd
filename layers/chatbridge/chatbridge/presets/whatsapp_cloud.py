"""WhatsApp Cloud API (Meta): ``entry[].changes[].value.messages[]``, replies through ``/<phone id>/messages``.

Status updates (sent, delivered, read, failed) arrive in the same webhook under ``value.statuses`` with no
``messages``: the spec answers them ``ignored``. The sender's name sits beside the messages
(``value.contacts``), hence the ``$root`` nick.

Media: the webhook names a media id. ``GET <base_url>/<api_version>/<media id>`` with the access token answers
``{"url": ...}`` (a short-lived URL on ``lookaside.fbsbx.com``), which is fetched with the token again. The
token goes only to ``base_url``'s host and ``*.fbsbx.com``: the URL is the provider's answer, never trusted
further than that.
"""

from chatbridge.presets.model import FileReply, Parameter, Preset, media_parameter

_MEDIA = "document|||audio|||video|||sticker|||voice"


def _field(name: str) -> str:
    """``{{msg.document.<name>|||audio.<name>|||...}}``: the field of whichever media object the message has."""
    return "{{msg." + "|||".join(f"{kind}.{name}" for kind in _MEDIA.split("|||")) + "}}"


_TOKEN = {"Authorization": "Bearer <<token>>"}


def _fetch(kind_field: str, **extra: str) -> dict[str, object]:
    return {"resolve": {"url": "<<base_url>>/<<api_version>>/{{msg." + kind_field + "}}", "headers": _TOKEN,
                        "location": "url"},
            "url": "{{resolved}}", "headers": _TOKEN, "hosts": ["<<base_url_host>>", "*.fbsbx.com"], **extra}

PRESET = Preset(
    name="whatsapp-cloud",
    provider="WhatsApp Cloud API (Meta)",
    supports="text, image, document/audio/video/sticker/voice, location, contacts, button and interactive "
             "replies; X-Hub-Signature-256 and the GET subscribe handshake; replies as text messages",
    ignores="statuses (sent, delivered, read, failed) and reactions",
    parameters=(
        Parameter(name="phone_number_id", required=True, description="the sender's Phone number ID (WhatsApp > API Setup)",
                  pattern=r"[0-9]{5,30}", example="106540352242922"),
        Parameter(name="app_secret", required=True, description="the Meta app's App Secret (signs every webhook)",
                  pattern=r"[A-Za-z0-9]{16,128}", example="0123456789abcdef0123456789abcdef"),
        Parameter(name="verify_token", required=True, description="any string; you type the same into Meta's webhook form",
                  pattern=r"[A-Za-z0-9_.~-]{1,256}", example="change-me"),
        Parameter(name="token", kind="ssm", description="SSM parameter holding the (system user) access token"),
        Parameter(name="api_version", default="v21.0", description="Graph API version", pattern=r"v[0-9]{1,3}\.[0-9]{1,3}",
                  example="v21.0"),
        Parameter(name="base_url", kind="url", default="https://graph.facebook.com", description="Graph API host",
                  pattern=r"https?://[^\s\"'<>{}]+", example="https://graph.facebook.com"),
        media_parameter("the media id's URL from GET <base_url>/<api_version>/<media id>, then the file, both "
                        "with the token"),
    ),
    incoming_webhook={
        "name": "WhatsApp",
        "scope": "whatsapp",
        "verification": {"hmac": {"header": "X-Hub-Signature-256", "secret": "<<app_secret>>", "algorithm": "sha256",
                                  "encoding": "hex", "prefix": "sha256="},
                         "handshake": {"verify_token": "<<verify_token>>"}},
        "conditions": "object=whatsapp_business_account",
        "messages": "entry.0.changes.0.value.messages",
        "chat_id": "from",
        "nick": "$root.entry.0.changes.0.value.contacts.0.profile.name",
        "phone": "from",
        "time": "timestamp",
        "message_id": "id",
        "text": [
            {"conditions": "type=text", "body": "{{msg.text.body}}"},
            {"conditions": "type=button", "body": "{{msg.button.text}}"},
            {"conditions": "type=interactive",
             "body": "{{msg.interactive.button_reply.title|||interactive.list_reply.title}}"},
            {"conditions": "type=location",
             "body": "{{msg.location.name}} https://maps.google.com/?q={{msg.location.latitude}},{{msg.location.longitude}}"},
            {"conditions": "type=contacts",
             "body": "{{msg.contacts.0.name.formatted_name}} {{msg.contacts.0.phones.0.phone}}"},
        ],
        "image": {"conditions": "type=image", "body": "[image {{msg.image.id}}] {{msg.image.caption}}"},
        "attachment": {"conditions": "type=document,audio,video,sticker,voice",
                       "body": "[{{msg.type}} {{msg." + _MEDIA.replace("|||", ".id|||") + ".id}}] "
                               "{{msg.document.caption|||video.caption|||document.filename}}"},
        "on_closed_chat": "active",
    },
    media={"image": {"body": "{{msg.image.caption}}",
                     "fetch": _fetch("image.id", content_type="{{msg.image.mime_type}}")},
           "attachment": {"body": "[{{msg.type}}] {{msg.document.caption|||video.caption|||document.filename}}",
                          "fetch": _fetch(_MEDIA.replace("|||", ".id|||") + ".id", content_type=_field("mime_type"),
                                          filename="{{msg.document.filename}}")}},
    rest_api={
        "name": "WhatsApp Cloud send text",
        "method": "POST",
        "url": "<<base_url>>/<<api_version>>/<<phone_number_id>>/messages",
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer <<token>>"},
        "body": '{"messaging_product": "whatsapp", "recipient_type": "individual", '
                '"to": "{{args.chat.incoming_chat.chat_external_id}}", "type": "text", '
                '"text": {"preview_url": true, "body": {{msg_url}}}}',
        "success_codes": [200],
    },
    setup=(
        "Meta app > WhatsApp > Configuration > Webhook: Callback URL <<webhook_url>>, Verify token <<verify_token>>",
        "Subscribe the webhook field 'messages' (statuses come with it and are ignored).",
    ),
)


# Operator files by link: JPEG and PNG as image messages (the only image types WhatsApp takes), everything
# else as a document (with its file name); both with the text as caption.
_FILE_HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer <<token>>"}
_TO = ('{"messaging_product": "whatsapp", "recipient_type": "individual", '
       '"to": "{{args.chat.incoming_chat.chat_external_id}}", ')
FILES = (
    FileReply(name="image", conditions=("{args.file.type} in image/jpeg,image/png",),
              rest_api={"name": "WhatsApp Cloud send image", "method": "POST",
                        "url": "<<base_url>>/<<api_version>>/<<phone_number_id>>/messages", "headers": _FILE_HEADERS,
                        "body": _TO + '"type": "image", "image": {"link": {{file_url}}, "caption": {{msg_clean}}}}',
                        "success_codes": [200]}),
    FileReply(name="document", conditions=("{args.file.type} != image/jpeg", "{args.file.type} != image/png"),
              rest_api={"name": "WhatsApp Cloud send document", "method": "POST",
                        "url": "<<base_url>>/<<api_version>>/<<phone_number_id>>/messages", "headers": _FILE_HEADERS,
                        "body": _TO + '"type": "document", "document": {"link": {{file_url}}, '
                                      '"caption": {{msg_clean}}, "filename": {{file_name}}}}',
                        "success_codes": [200]}),
)
PRESET = PRESET.model_copy(update={"files": FILES})
