"""Telegram Bot API: updates posted by ``setWebhook``, replies through ``sendMessage``.

The bot token sits in the URL path (``/bot<token>/sendMessage``): it is an SSM reference there, read by the
dispatcher at send time and shown as ``***`` in delivery records, like header secrets. Edited messages carry the
original ``message_id``; keyed on it the ingest would drop an edit as a duplicate, so this preset keys
messages on the whole update (``update_id`` is unique per update and Telegram retries the same body).

Media: ``getFile?file_id=...`` answers ``{"result": {"file_path": ...}}``, and the file is at
``/file/bot<token>/<file_path>``. Both URLs carry the token in the path, as the same SSM reference, so it is
read at fetch time and shown as ``***`` wherever a URL or an error is stored.
"""

from chatbridge.presets.model import FileReply, Parameter, Preset, media_parameter

_FILES = "document|||voice|||audio|||video|||video_note|||sticker"


def _fetch(file_id: str, **extra: str) -> dict[str, object]:
    return {"resolve": {"url": "<<base_url>>/bot<<token>>/getFile?file_id={{msg." + file_id + "}}",
                        "location": "result.file_path"},
            "url": "<<base_url>>/file/bot<<token>>/{{resolved}}", "hosts": ["<<base_url_host>>"], **extra}

PRESET = Preset(
    name="telegram",
    provider="Telegram (Bot API)",
    supports="message and edited_message: text, photo (largest size), document/voice/audio/video/sticker, "
             "location, contact; replies with sendMessage",
    ignores="callback queries, channel posts, member updates and other update types (200 ignored)",
    parameters=(
        Parameter(name="token", kind="ssm", description="SSM parameter holding the bot token from @BotFather"),
        Parameter(name="secret", required=True,
                  description="the secret_token you pass to setWebhook (1-256 of A-Z a-z 0-9 _ -)",
                  pattern=r"[A-Za-z0-9_-]{1,256}", example="a-long-random-string"),
        Parameter(name="base_url", kind="url", default="https://api.telegram.org",
                  description="Bot API server", pattern=r"https?://[^\s\"'<>{}]+", example="https://api.telegram.org"),
        media_parameter("getFile, then /file/bot<token>/<file_path>, both on base_url"),
    ),
    incoming_webhook={
        "name": "Telegram",
        "scope": "telegram",
        "verification": {"shared_secret": {"header": "X-Telegram-Bot-Api-Secret-Token", "value": "<<secret>>"}},
        "conditions": "update_id=__exists__",
        "messages": "message|||edited_message",
        "chat_id": "chat.id",
        "nick": "from.first_name|||from.last_name",
        "nick_combine": "join",
        "time": "edit_date|||date",
        "text": [
            {"conditions": "edit_date=__exists__||text=__exists__", "body": "(edited) {{msg.text}}"},
            {"conditions": "text=__exists__", "body": "{{msg.text}}"},
            {"conditions": "location=__exists__",
             "body": "https://maps.google.com/?q={{msg.location.latitude}},{{msg.location.longitude}}"},
            {"conditions": "contact=__exists__",
             "body": "{{msg.contact.first_name}} {{msg.contact.phone_number}}"},
        ],
        "image": {"conditions": "photo=__exists__", "body": "[image {{msg.photo.-1.file_id}}] {{msg.caption}}"},
        "attachment": {"conditions": "document|||voice|||audio|||video|||video_note|||sticker=__exists__",
                       "body": "[file {{msg.document.file_id|||voice.file_id|||audio.file_id|||video.file_id|||"
                               "video_note.file_id|||sticker.file_id}}] {{msg.document.file_name|||caption|||"
                               "sticker.emoji}}"},
        "on_closed_chat": "pending",
    },
    media={"image": {"body": "{{msg.caption}}", "fetch": _fetch("photo.-1.file_id")},
           "attachment": {"body": "[file] {{msg.document.file_name|||caption|||sticker.emoji}}",
                          "fetch": _fetch(_FILES.replace("|||", ".file_id|||") + ".file_id",
                                          content_type="{{msg." + _FILES.replace("|||", ".mime_type|||") +
                                                       ".mime_type}}",
                                          filename="{{msg.document.file_name|||audio.file_name|||video.file_name}}")}},
    rest_api={
        "name": "Telegram sendMessage",
        "method": "POST",
        "url": "<<base_url>>/bot<<token>>/sendMessage",
        "headers": {"Content-Type": "application/json"},
        "body": '{"chat_id": {{args.chat.incoming_chat.chat_external_id}}, "text": {{msg_url}}}',
        "success_codes": [200],
    },
    setup=(
        "Register the webhook with the secret (allowed_updates keeps other update types away):",
        "  TOKEN=$(aws ssm get-parameter --name <<token_ssm>> --with-decryption --query Parameter.Value --output text)",
        "  curl -sS \"<<base_url>>/bot$TOKEN/setWebhook\" -d url='<<webhook_url>>' -d secret_token='<<secret>>' "
        "-d 'allowed_updates=[\"message\",\"edited_message\"]'",
    ),
)


# Operator files by URL: images with sendPhoto; sendDocument, which Telegram fetches by URL only for PDF, ZIP
# and GIF files; any other file goes as its link in a text message (sendMessage), which Telegram previews.
_CHAT = '{"chat_id": {{args.chat.incoming_chat.chat_external_id}}, '
FILES = (
    FileReply(name="photo", conditions=("{args.file.kind} = image", "{args.file.type} != image/gif"),
              rest_api={"name": "Telegram sendPhoto", "method": "POST", "url": "<<base_url>>/bot<<token>>/sendPhoto",
                        "headers": {"Content-Type": "application/json"},
                        "body": _CHAT + '"photo": {{file_url}}, "caption": {{msg_clean}}}', "success_codes": [200]}),
    FileReply(name="document", conditions=("{args.file.type} in application/pdf,application/zip,image/gif",),
              rest_api={"name": "Telegram sendDocument", "method": "POST",
                        "url": "<<base_url>>/bot<<token>>/sendDocument", "headers": {"Content-Type": "application/json"},
                        "body": _CHAT + '"document": {{file_url}}, "caption": {{msg_clean}}}', "success_codes": [200]}),
    FileReply(name="link", conditions=("{args.file.kind} = attachment", "{args.file.type} != application/pdf",
                                       "{args.file.type} != application/zip")),
)
PRESET = PRESET.model_copy(update={"files": FILES})
