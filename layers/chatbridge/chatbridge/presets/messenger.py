"""Facebook Messenger (Page webhooks): ``entry[].messaging[]``, replies through the Send API.

Echoes of the page's own messages (``message.is_echo``) are operator messages in the chat of their
recipient; the echo of a reply chatbridge sent has the ``message_id`` the Send API answered, so it is a
duplicate of that reply, not a second message. Delivery receipts name their messages (``delivery.mids``), read
receipts a time (``read.watermark``: every reply of the chat up to it is read). Edits (``message_edit``) replace
their original, reactions (``reaction``) go on their message.

Attachments carry a CDN URL (``payload.url``) that needs no auth; the fetch is limited to Facebook's
CDN hosts, since the URL is the payload's.
"""

from chatbridge.presets.model import FileReply, Parameter, Preset, media_parameter

FACEBOOK_CDN_HOSTS = ["*.fbcdn.net", "*.fbsbx.com", "*.facebook.com"]
_ATTACHMENT_URL = {"url": "{{msg.message.attachments.0.payload.url}}", "hosts": FACEBOOK_CDN_HOSTS}

PRESET = Preset(
    name="messenger",
    provider="Facebook Messenger (Page)",
    supports="text, quick replies, postbacks (button titles), image, file/audio/video attachments (files "
             "stored), location; "
             "X-Hub-Signature-256 and the GET subscribe handshake; replies with the Send API (RESPONSE)",
    ignores="receipts of messages chatbridge did not send (counted, 200); an echo of a page message that "
            "would start a chat",
    parameters=(
        Parameter(name="app_secret", required=True, description="the Meta app's App Secret (signs every webhook)",
                  pattern=r"[A-Za-z0-9]{16,128}", example="0123456789abcdef0123456789abcdef"),
        Parameter(name="verify_token", required=True, description="any string; you type the same into Meta's webhook form",
                  pattern=r"[A-Za-z0-9_.~-]{1,256}", example="change-me"),
        Parameter(name="token", kind="ssm", description="SSM parameter holding the Page access token"),
        Parameter(name="api_version", default="v21.0", description="Graph API version", pattern=r"v[0-9]{1,3}\.[0-9]{1,3}",
                  example="v21.0"),
        Parameter(name="base_url", kind="url", default="https://graph.facebook.com", description="Graph API host",
                  pattern=r"https?://[^\s\"'<>{}]+", example="https://graph.facebook.com"),
        media_parameter("the attachment's payload.url on Facebook's CDN, no auth"),
    ),
    incoming_webhook={
        "name": "Messenger",
        "scope": "messenger",
        "verification": {"hmac": {"header": "X-Hub-Signature-256", "secret": "<<app_secret>>", "algorithm": "sha256",
                                  "encoding": "hex", "prefix": "sha256="},
                         "handshake": {"verify_token": "<<verify_token>>"}},
        "conditions": "object=page",
        "messages": "entry.0.messaging",
        "chat_id": "sender.id",
        "time": "timestamp",
        "message_id": "message.mid|||postback.mid",
        "operator": "message.is_echo=true",
        "operator_chat_id": "recipient.id",
        "message_type": "message.attachments.0.type",
        "receipts": [
            {"items": "entry.0.messaging", "conditions": "delivery=__exists__", "message_id": "delivery.mids",
             "state": "delivered"},
            {"items": "entry.0.messaging", "conditions": "read=__exists__", "watermark": "read.watermark",
             "chat_id": "sender.id", "state": "read"},
        ],
        "edits": {"conditions": "message_edit=__exists__", "message_id": "message_edit.mid",
                  "body": "{{msg.message_edit.text}}"},
        "reactions": {"conditions": "reaction=__exists__", "message_id": "reaction.mid",
                      "reaction": "reaction.emoji"},
        "text": [
            {"conditions": "message.text=__exists__", "body": "{{msg.message.text}}"},
            {"conditions": "postback=__exists__", "body": "{{msg.postback.title}}"},
            {"conditions": "message.attachments.0.type=location",
             "body": "https://maps.google.com/?q={{msg.message.attachments.0.payload.coordinates.lat}},"
                     "{{msg.message.attachments.0.payload.coordinates.long}}"},
        ],
        "image": {"conditions": "message.attachments.0.type=image",
                  "body": "{{msg.message.attachments.0.payload.url}}"},
        "attachment": {"conditions": "message.attachments.0.type=file,audio,video",
                       "body": "[{{msg.message.attachments.0.type}}] {{msg.message.attachments.0.payload.url}}"},
        "on_closed_chat": "pending",
    },
    media={"image": {"body": "", "fetch": _ATTACHMENT_URL},
           "attachment": {"body": "[{{msg.message.attachments.0.type}}]", "fetch": _ATTACHMENT_URL}},
    rest_api={
        "name": "Messenger Send API",
        "method": "POST",
        "url": "<<base_url>>/<<api_version>>/me/messages",
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer <<token>>"},
        "body": '{"recipient": {"id": "{{args.chat.incoming_chat.chat_external_id}}"}, "messaging_type": "RESPONSE", '
                '"message": {"text": {{msg_url}}}}',
        "success_codes": [200],
        "response_message_id": "message_id",
    },
    setup=(
        "Meta app > Messenger > Settings > Webhooks: Callback URL <<webhook_url>>, Verify token <<verify_token>>",
        "Subscribe the page to the fields messages, messaging_postbacks, message_deliveries, message_reads, "
        "message_echoes (replies from the Page inbox), message_edits and message_reactions.",
    ),
)


# Operator files by URL: an image or file attachment. An attachment carries no text, so a caption follows as
# a text message of its own (Messenger may show the two in either order).
_SEND = {"method": "POST", "url": "<<base_url>>/<<api_version>>/me/messages",
         "headers": {"Content-Type": "application/json", "Authorization": "Bearer <<token>>"}, "success_codes": [200]}
_TO = '{"recipient": {"id": "{{args.chat.incoming_chat.chat_external_id}}"}, "messaging_type": "RESPONSE", '
FILES = (
    FileReply(name="image", conditions=("{args.file.kind} = image",),
              rest_api={**_SEND, "name": "Messenger Send API (image)",
                        "body": _TO + '"message": {"attachment": {"type": "image", '
                                      '"payload": {"url": {{file_url}}, "is_reusable": false}}}}'}),
    FileReply(name="file", conditions=("{args.file.kind} = attachment",),
              rest_api={**_SEND, "name": "Messenger Send API (file)",
                        "body": _TO + '"message": {"attachment": {"type": "file", '
                                      '"payload": {"url": {{file_url}}, "is_reusable": false}}}}'}),
    FileReply(name="caption", conditions=("{args.file.caption} notempty",),
              rest_api={**_SEND, "name": "Messenger Send API (a file's caption)",
                        "body": _TO + '"message": {"text": {{msg_clean}}}}'}),
)
PRESET = PRESET.model_copy(update={"files": FILES})
