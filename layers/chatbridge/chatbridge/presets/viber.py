"""Viber REST bot API: callbacks of every event type to one URL, replies through ``/pa/send_message``.

Viber signs each callback body with the bot's auth token (``X-Viber-Content-Signature``, hex HMAC-SHA256),
so the token is both the verification secret stored in the spec and, as an SSM reference, the REST API's
``X-Viber-Auth-Token`` header.

Pictures, videos and files come with a download URL (``message.media``) that needs no auth, so the fetch
is a plain GET; stickers carry only a sticker id and stay text.
"""

from chatbridge.presets.model import FileReply, Parameter, Preset, media_parameter

PRESET = Preset(
    name="viber",
    provider="Viber (REST bot API)",
    supports="message events: text, picture, video/file (files stored), sticker, location, contact, url; "
             "X-Viber-Content-Signature; replies with send_message",
    ignores="delivered/seen/failed receipts, subscribed, unsubscribed, conversation_started and the "
            "set_webhook check (200 ignored)",
    parameters=(
        Parameter(name="auth_token", required=True, description="the bot's authentication token (checks signatures)",
                  pattern=r"[A-Za-z0-9-]{20,100}", example="445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"),
        Parameter(name="token", kind="ssm", description="SSM parameter holding the same auth token, for replies"),
        Parameter(name="sender_name", default="Support", description="the sender name Viber shows on replies",
                  pattern=r"[^\"\\<>{}\r\n]{1,28}", example="Support"),
        Parameter(name="base_url", kind="url", default="https://chatapi.viber.com", description="Viber API host",
                  pattern=r"https?://[^\s\"'<>{}]+", example="https://chatapi.viber.com"),
        media_parameter("the message's media URL, no auth"),
    ),
    incoming_webhook={
        "name": "Viber",
        "scope": "viber",
        "verification": {"hmac": {"header": "X-Viber-Content-Signature", "secret": "<<auth_token>>",
                                  "algorithm": "sha256", "encoding": "hex", "prefix": ""}},
        "conditions": "event=message",
        "chat_id": "sender.id",
        "nick": "sender.name",
        "time": "timestamp",
        "message_id": "message_token",
        "text": [
            {"conditions": "message.type=text,url", "body": "{{msg.message.text|||message.media}}"},
            {"conditions": "message.type=location",
             "body": "https://maps.google.com/?q={{msg.message.location.lat}},{{msg.message.location.lon}}"},
            {"conditions": "message.type=contact",
             "body": "{{msg.message.contact.name}} {{msg.message.contact.phone_number}}"},
            {"conditions": "message.type=sticker", "body": "[sticker {{msg.message.sticker_id}}]"},
        ],
        "image": {"conditions": "message.type=picture", "body": "{{msg.message.media}} {{msg.message.text}}"},
        "attachment": {"conditions": "message.type=file,video",
                       "body": "[{{msg.message.type}} {{msg.message.media}}] {{msg.message.file_name}}"},
        "on_closed_chat": "pending",
    },
    media={"image": {"body": "{{msg.message.text}}", "fetch": {"url": "{{msg.message.media}}"}},
           "attachment": {"body": "[{{msg.message.type}}] {{msg.message.file_name}}",
                          "fetch": {"url": "{{msg.message.media}}", "filename": "{{msg.message.file_name}}"}}},
    rest_api={
        "name": "Viber send_message",
        "method": "POST",
        "url": "<<base_url>>/pa/send_message",
        "headers": {"Content-Type": "application/json", "X-Viber-Auth-Token": "<<token>>"},
        "body": '{"receiver": {{args.chat.incoming_chat.chat_external_id}}, "min_api_version": 1, '
                '"sender": {"name": "<<sender_name>>"}, "type": "text", "text": {{msg_url}}}',
        "success_codes": [200],
    },
    setup=(
        "Point the bot at chatbridge (Viber answers with status 0 once its check callback got a 200):",
        "  curl -sS <<base_url>>/pa/set_webhook -H 'X-Viber-Auth-Token: <<auth_token>>' "
        "-d '{\"url\": \"<<webhook_url>>\", \"event_types\": [\"delivered\", \"seen\", \"failed\", "
        "\"conversation_started\"], \"send_name\": true}'",
    ),
)


# Operator files by URL: JPEG, PNG and GIF as a picture (with the text under it); anything else (WebP too) as a
# file message, which has no text, so a caption follows as a text message of its own.
_SEND = {"method": "POST", "url": "<<base_url>>/pa/send_message",
         "headers": {"Content-Type": "application/json", "X-Viber-Auth-Token": "<<token>>"}, "success_codes": [200]}
_FROM = '{"receiver": {{args.chat.incoming_chat.chat_external_id}}, "min_api_version": 1, "sender": {"name": "<<sender_name>>"}, '
_NOT_PICTURE = ("{args.file.type} != image/jpeg", "{args.file.type} != image/png", "{args.file.type} != image/gif")
FILES = (
    FileReply(name="picture", conditions=("{args.file.type} in image/jpeg,image/png,image/gif",),
              rest_api={**_SEND, "name": "Viber send_message (picture)",
                        "body": _FROM + '"type": "picture", "text": {{msg_clean}}, "media": {{file_url}}}'}),
    FileReply(name="file", conditions=_NOT_PICTURE,
              rest_api={**_SEND, "name": "Viber send_message (file)",
                        "body": _FROM + '"type": "file", "media": {{file_url}}, "size": {{file_size}}, '
                                        '"file_name": {{file_name}}}'}),
    FileReply(name="caption", conditions=(*_NOT_PICTURE, "{args.file.caption} notempty"),
              rest_api={**_SEND, "name": "Viber send_message (a file's caption)",
                        "body": _FROM + '"type": "text", "text": {{msg_clean}}}'}),
)
PRESET = PRESET.model_copy(update={"files": FILES})
