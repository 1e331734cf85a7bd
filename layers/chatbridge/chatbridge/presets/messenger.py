"""Facebook Messenger (Page webhooks): ``entry[].messaging[]``, replies through the Send API.

Echoes of the page's own messages (``message.is_echo``) and delivery/read receipts share the webhook with
visitor messages, sometimes in one batch, so they are skipped message by message rather than refusing the
whole payload.

Attachments carry a CDN URL (``payload.url``) that needs no auth; the fetch is limited to Facebook's
CDN hosts, since the URL is the payload's.
"""

from chatbridge.presets.model import FileReply, Parameter, Preset, media_parameter

_NOT_ECHO = "message.is_echo!=true"
FACEBOOK_CDN_HOSTS = ["*.fbcdn.net", "*.fbsbx.com", "*.facebook.com"]
_ATTACHMENT_URL = {"url": "{{msg.message.attachments.0.payload.url}}", "hosts": FACEBOOK_CDN_HOSTS}

PRESET = Preset(
    name="messenger",
    provider="Facebook Messenger (Page)",
    supports="text, quick replies, postbacks (button titles), image, file/audio/video attachments (files "
             "stored), location; "
             "X-Hub-Signature-256 and the GET subscribe handshake; replies with the Send API (RESPONSE)",
    ignores="echoes of the page's own messages, delivery and read receipts (skipped, 200)",
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
        "text": [
            {"conditions": f"message.text=__exists__||{_NOT_ECHO}", "body": "{{msg.message.text}}"},
            {"conditions": "postback=__exists__", "body": "{{msg.postback.title}}"},
            {"conditions": f"message.attachments.0.type=location||{_NOT_ECHO}",
             "body": "https://maps.google.com/?q={{msg.message.attachments.0.payload.coordinates.lat}},"
                     "{{msg.message.attachments.0.payload.coordinates.long}}"},
        ],
        "image": {"conditions": f"message.attachments.0.type=image||{_NOT_ECHO}",
                  "body": "{{msg.message.attachments.0.payload.url}}"},
        "attachment": {"conditions": f"message.attachments.0.type=file,audio,video||{_NOT_ECHO}",
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
    },
    setup=(
        "Meta app > Messenger > Settings > Webhooks: Callback URL <<webhook_url>>, Verify token <<verify_token>>",
        "Subscribe the page to the fields messages, messaging_postbacks (message_echoes, message_deliveries and "
        "message_reads are skipped if you add them).",
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
