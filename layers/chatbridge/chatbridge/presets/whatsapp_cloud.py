"""WhatsApp Cloud API (Meta): ``entry[].changes[].value.messages[]``, replies through ``/<phone id>/messages``.

Status updates (sent, delivered, read, failed) arrive in the same webhook under ``value.statuses``: they are
receipts of replies, which the send call's answer names (``messages.0.id``); a failed one keeps Meta's reason.
Messages the business sent from the WhatsApp Business app (``smb_message_echoes``: ``value.message_echoes``)
are operator messages in the chat of their ``to``. A group message (``group_id``) makes the group's own
chat, each member its author, and the reply goes to the group (``recipient_type`` from the chat's
``chat_type``). Edits (``type`` edit) replace their original, reactions go on their message. The sender's name
sits beside the messages (``value.contacts``), hence the ``$root`` nick.

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
    ignores="statuses of messages chatbridge did not send (counted, 200); group names (Meta sends none with a "
            "message)",
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
        "messages": "entry.0.changes.0.value.messages|||entry.0.changes.0.value.message_echoes",
        "chat_id": "group_id|||from",
        "nick": "$root.entry.0.changes.0.value.contacts.0.profile.name",
        "nick_fallback": "from",
        "phone": "from",
        "group": "group_id=__exists__",
        "author_name": "$root.entry.0.changes.0.value.contacts.0.profile.name|||from",
        "author_id": "from",
        "operator": "$root.entry.0.changes.0.field=smb_message_echoes",
        "operator_chat_id": "to",
        "message_type": "unsupported.type|||type",
        "receipts": {"items": "entry.0.changes.0.value.statuses", "message_id": "id", "status": "status",
                     "status_map": {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"},
                     "reason": "errors.0.error_data.details|||errors.0.title|||errors.0.message"},
        "edits": {"conditions": "type=edit", "message_id": "edit.original_message_id",
                  "body": "{{msg.edit.message.text.body|||edit.message.image.caption|||edit.message.video.caption|||"
                          "edit.message.document.caption}}"},
        "reactions": {"conditions": "type=reaction", "message_id": "reaction.message_id",
                      "reaction": "reaction.emoji"},
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
                               "{{msg.document.filename}} {{msg.document.caption|||video.caption}}"},
        "on_closed_chat": "active",
    },
    media={"image": {"body": "{{msg.image.caption}}",
                     "fetch": _fetch("image.id", content_type="{{msg.image.mime_type}}")},
           "attachment": {"body": "[{{msg.type}}] {{msg.document.filename}} {{msg.document.caption|||video.caption}}",
                          "fetch": _fetch(_MEDIA.replace("|||", ".id|||") + ".id", content_type=_field("mime_type"),
                                          filename="{{msg.document.filename}}")}},
    rest_api={
        "name": "WhatsApp Cloud send text",
        "method": "POST",
        "url": "<<base_url>>/<<api_version>>/<<phone_number_id>>/messages",
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer <<token>>"},
        "body": '{"messaging_product": "whatsapp", "recipient_type": "{{args.chat.incoming_chat.chat_type}}", '
                '"to": "{{args.chat.incoming_chat.chat_external_id}}", "type": "text", '
                '"text": {"preview_url": true, "body": {{msg_url}}}}',
        "success_codes": [200],
        "response_message_id": "messages.0.id",
    },
    setup=(
        "Meta app > WhatsApp > Configuration > Webhook: Callback URL <<webhook_url>>, Verify token <<verify_token>>",
        "Subscribe the webhook field 'messages' (statuses come with it: replies show delivered and read); "
        "'smb_message_echoes' too if the number is also used in the WhatsApp Business app.",
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
