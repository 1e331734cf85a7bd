"""Twilio Messaging (SMS, MMS, WhatsApp via Twilio): form-encoded webhooks, replies through the Messages API.

Twilio signs each webhook with ``X-Twilio-Signature`` over the exact URL it was configured with plus the
sorted form fields, so the spec stores that URL. Replies go out ``From`` the number the visitor wrote to
(the chat's first payload's ``To``, kept on the chat as the ``to`` chat attribute), which keeps SMS and
``whatsapp:`` senders apart without a parameter.

Media: ``MediaUrl0`` is fetched with the Messages API's basic auth (accounts may require it for media).
Only the API host (``base_url``'s) may receive that header: Twilio answers with a redirect to its media
CDN, which the fetch follows without headers. Files after the first stay as their URLs in the body.
"""

from chatbridge.presets.model import FileReply, Parameter, Preset, media_parameter

_IMAGES = "image/jpeg,image/png,image/gif,image/webp"
_MEDIA_URL0 = {"url": "{{msg.MediaUrl0}}", "hosts": ["<<base_url_host>>"],
               "headers": {"Authorization": "Basic <<basic_auth>>"}, "content_type": "{{msg.MediaContentType0}}"}

PRESET = Preset(
    name="twilio",
    provider="Twilio Messaging (SMS, MMS, WhatsApp)",
    supports="text, MMS/WhatsApp media (image or attachment; the first file stored, the next two as URLs), "
             "WhatsApp location and "
             "quick-reply buttons; X-Twilio-Signature; replies through the Messages API",
    ignores="status callbacks (MessageStatus: sent, delivered, read, failed...)",
    parameters=(
        Parameter(name="account_sid", required=True, description="your Account SID (Console > Account info)",
                  pattern=r"AC[0-9a-fA-F]{32}", example="AC0123456789abcdef0123456789abcdef"),
        Parameter(name="auth_token", required=True, description="your Auth Token (checks X-Twilio-Signature)",
                  pattern=r"[0-9a-fA-F]{32}", example="0123456789abcdef0123456789abcdef"),
        Parameter(name="basic_auth", kind="ssm",
                  description="SSM parameter holding base64('<account_sid>:<auth_token>') for the Messages API"),
        Parameter(name="base_url", kind="url", default="https://api.twilio.com", description="Twilio API host",
                  pattern=r"https?://[^\s\"'<>{}]+", example="https://api.twilio.com"),
        media_parameter("MediaUrl0 from base_url's host, with the basic_auth header"),
    ),
    incoming_webhook={
        "name": "Twilio",
        "scope": "sms",
        "verification": {"twilio": {"auth_token": "<<auth_token>>", "url": "<<webhook_url>>"}},
        "conditions": "MessageStatus!=__exists__||From=__exists__",
        "chat_id": "From",
        "phone": "From||whatsapp:||last",
        "nick": "ProfileName",
        "message_id": "MessageSid",
        "chat_attributes": {"to": "To"},
        "text": [
            {"conditions": "Latitude=__exists__",
             "body": "{{msg.Address}} https://maps.google.com/?q={{msg.Latitude}},{{msg.Longitude}}"},
            {"conditions": "ButtonText=__exists__", "body": "{{msg.ButtonText}}"},
            {"body": "{{msg.Body}}"},
        ],
        "image": {"conditions": f"NumMedia!=0||MediaContentType0={_IMAGES}",
                  "body": "{{msg.MediaUrl0}} {{msg.Body}}"},
        "attachment": {"conditions": f"NumMedia!=0||MediaContentType0!={_IMAGES}",
                       "body": "{{msg.Body}} {{msg.MediaUrl0}} {{msg.MediaUrl1}} {{msg.MediaUrl2}}"},
        "on_closed_chat": "pending",
    },
    media={"image": {"body": "{{msg.Body}}", "fetch": _MEDIA_URL0},
           "attachment": {"body": "{{msg.Body}} {{msg.MediaUrl1}} {{msg.MediaUrl2}}", "fetch": _MEDIA_URL0}},
    rest_api={
        "name": "Twilio Messages API",
        "method": "POST",
        "url": "<<base_url>>/2010-04-01/Accounts/<<account_sid>>/Messages.json",
        "headers": {"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic <<basic_auth>>"},
        "body": "To={{args.chat.incoming_chat.chat_external_id}}&From={{args.chat.incoming_chat.attributes.to}}&Body={{msg_url}}",
        "success_codes": [200, 201],
    },
    setup=(
        "Console > Phone Numbers > your number > Messaging (or the WhatsApp sender): "
        "'A message comes in' -> Webhook, HTTP POST, <<webhook_url>>",
        "Use exactly this URL: the signature covers it. Leave the status callback empty (statuses are ignored anyway).",
    ),
)


# Operator files: one message with MediaUrl (Twilio fetches it) and the text as Body.
FILES = (
    FileReply(name="media", conditions=(),
              rest_api={"name": "Twilio Messages API (media)", "method": "POST",
                        "url": "<<base_url>>/2010-04-01/Accounts/<<account_sid>>/Messages.json",
                        "headers": {"Content-Type": "application/x-www-form-urlencoded",
                                    "Authorization": "Basic <<basic_auth>>"},
                        "body": "To={{args.chat.incoming_chat.chat_external_id}}&From={{args.chat.incoming_chat."
                                "attributes.to}}&Body={{msg_clean}}&MediaUrl={{file_url}}",
                        "success_codes": [200, 201]}),
)
PRESET = PRESET.model_copy(update={"files": FILES})
