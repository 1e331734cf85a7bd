"""Telegram Bot API: updates posted by ``setWebhook``, replies through ``sendMessage``.

The bot token sits in the URL path (``/bot<token>/sendMessage``): it is an SSM reference there, read by the
dispatcher at send time and shown as ``***`` in delivery records, like header secrets. Messages are keyed on
``message_id``, which Telegram numbers per chat (``message_id_scope`` chat); an ``edited_message`` carries its
original's id and replaces its text. Replies keep ``sendMessage``'s ``result.message_id``. A group or
supergroup is one chat named by its title, each member the author of their messages (an anonymous admin
writes as ``GroupAnonymousBot``, "Group"). ``message_reaction`` updates put a reaction on their message. The Bot
API sends no delivery or read receipts, so replies stay ``sent``.

Media: ``getFile?file_id=...`` answers ``{"result": {"file_path": ...}}``, and the file is at
``/file/bot<token>/<file_path>``. Both URLs carry the token in the path, as the same SSM reference, so it is
read at fetch time and shown as ``***`` wherever a URL or an error is stored.
"""

from chatbridge.presets.model import FileReply, Parameter, Preset, media_parameter

_FILES = "document|||voice|||audio|||video|||video_note"  # stickers stay text, as Viber's: "[sticker <emoji>]"


def _fetch(file_id: str, **extra: str) -> dict[str, object]:
    return {"resolve": {"url": "<<base_url>>/bot<<token>>/getFile?file_id={{msg." + file_id + "}}",
                        "location": "result.file_path"},
            "url": "<<base_url>>/file/bot<<token>>/{{resolved}}", "hosts": ["<<base_url_host>>"], **extra}

PRESET = Preset(
    name="telegram",
    provider="Telegram (Bot API)",
    supports="message and edited_message (an edit replaces its original): text, photo (largest size), "
             "document/voice/audio/video (type and file name), sticker, location, contact; groups and supergroups "
             "(named by their title, each member an author); message_reaction (on its message); replies with sendMessage",
    ignores="callback queries, channel posts, member updates and other update types (200 ignored); the Bot API "
            "has no delivery or read receipts",
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
        "messages": "message|||edited_message|||message_reaction",
        "chat_id": "chat.id",
        "nick": "from.first_name|||from.last_name",
        "nick_combine": "join",
        "time": "edit_date|||date",
        "message_id": "message_id",
        "message_id_scope": "chat",
        "group": "chat.type=group,supergroup",
        "chat_name": "chat.title",
        "author_name": "from.first_name|||from.username|||user.first_name|||user.username",
        "author_id": "from.id|||user.id",
        "reactions": {"conditions": "new_reaction=__exists__", "message_id": "message_id",
                      "reaction": "new_reaction.0.emoji|||new_reaction.0.custom_emoji_id"},
        "edits": {"conditions": "edit_date=__exists__", "body": "{{msg.text|||caption}}"},
        "text": [
            {"conditions": "text=__exists__", "body": "{{msg.text}}"},
            {"conditions": "location=__exists__",
             "body": "https://maps.google.com/?q={{msg.location.latitude}},{{msg.location.longitude}}"},
            {"conditions": "sticker=__exists__", "body": "[sticker {{msg.sticker.emoji|||sticker.file_id}}]"},
            {"conditions": "contact=__exists__",
             "body": "{{msg.contact.first_name}} {{msg.contact.phone_number}}"},
        ],
        "image": {"conditions": "photo=__exists__", "body": "[image {{msg.photo.-1.file_id}}] {{msg.caption}}"},
        "attachment": {"conditions": "document|||voice|||audio|||video|||video_note=__exists__",
                       "body": "[file {{msg.document.file_id|||voice.file_id|||audio.file_id|||video.file_id|||"
                               "video_note.file_id}}] {{msg.document.mime_type|||voice.mime_type|||"
                               "audio.mime_type|||video.mime_type|||video_note.mime_type}} "
                               "{{msg.document.file_name|||audio.file_name|||video.file_name}} {{msg.caption}}"},
        "on_closed_chat": "pending",
    },
    media={"image": {"body": "{{msg.caption}}", "fetch": _fetch("photo.-1.file_id")},
           "attachment": {"body": "[{{msg.document.mime_type|||voice.mime_type|||audio.mime_type|||video.mime_type|||"
                                  "video_note.mime_type}}] {{msg.document.file_name|||audio.file_name|||"
                                  "video.file_name}} {{msg.caption}}",
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
        "response_message_id": "result.message_id",
    },
    setup=(
        "Register the webhook with the secret (allowed_updates keeps other update types away):",
        "  TOKEN=$(aws ssm get-parameter --name <<token_ssm>> --with-decryption --query Parameter.Value --output text)",
        "  curl -sS \"<<base_url>>/bot$TOKEN/setWebhook\" -d url='<<webhook_url>>' -d secret_token='<<secret>>' "
        "-d 'allowed_updates=[\"message\",\"edited_message\",\"message_reaction\"]'",
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
