"""open-wa (wa-automate) WhatsApp: one spec for every body shape open-wa posts, replies through ``sendText``.

v4 posts either the bare message (a custom ``onMessage`` forwarder, Live Helper Chat's guide) or an
envelope with the message in ``data``; v5 webhooks wrap it as ``payload.message``. ``messages`` tries
``data``, then ``payload.message``, then the payload itself. The page's own messages (``fromMe``) are
refused in the general conditions, whichever envelope carries them. open-wa cannot sign webhooks, so the
URL carries a shared secret as a query parameter.

Its webhooks carry no file URL (WhatsApp media is encrypted); open-wa's ``decryptMedia`` call answers
with the file as a data URL, so that one request, with the same API key as replies, is the fetch.
"""

from chatbridge.presets.model import FileReply, Parameter, Preset, media_parameter

_DECRYPT_MEDIA = {"url": "<<base_url>>/decryptMedia", "method": "POST", "headers": {"api_key": "<<api_key>>"},
                  "body": '{"args": {"message": {{msg.id}}}}', "response": "data_url", "location": "response",
                  "content_type": "{{msg.mimetype}}", "filename": "{{msg.filename}}"}

PRESET = Preset(
    name="open-wa",
    provider="WhatsApp via open-wa (wa-automate)",
    supports="v4 bare and `data` envelope, v5 `payload.message` envelope: text, buttons/list replies, image, "
             "document/audio/voice/video/sticker (files stored through decryptMedia), location, vCard; secret in the "
             "webhook URL; replies with sendText",
    ignores="own messages (fromMe: echoes, acks of sent messages) and non-message events",
    parameters=(
        Parameter(name="base_url", kind="url", required=True, description="your open-wa EASY API base URL",
                  pattern=r"https?://[^\s\"'<>{}]+", example="https://wa.example.com"),
        Parameter(name="secret", required=True, description="a random string; it goes in the webhook URL you give open-wa",
                  pattern=r"[A-Za-z0-9_-]{16,256}", example="a-long-random-string"),
        Parameter(name="api_key", kind="ssm", description="SSM parameter holding open-wa's API key (--key)"),
        media_parameter("POST <base_url>/decryptMedia with the api_key header"),
    ),
    incoming_webhook={
        "name": "WhatsApp (open-wa)",
        "scope": "whatsapp",
        "verification": {"shared_secret": {"query": "secret", "value": "<<secret>>"}},
        "conditions": "fromMe|||data.fromMe|||payload.message.fromMe!=true",
        "messages": "data|||payload.message|||$root",
        "chat_id": "from",
        "nick": "sender.pushname|||notifyName|||sender.formattedName|||from||@||0",
        "phone": "from||@||0",
        "time": "t|||timestamp",
        "message_id": "id",
        "text": [
            {"conditions": "type=chat,buttons_response,list_response,template_button_reply", "body": "{{msg.body}}"},
            {"conditions": "type=location",
             "body": "{{msg.loc}} https://maps.google.com/?q={{msg.lat}},{{msg.lng}}"},
            {"conditions": "type=vcard,multi_vcard", "body": "[contact] {{msg.body}}"},
        ],
        "image": {"conditions": "type=image", "body": "[image {{msg.mediaData.filehash|||filehash|||id}}] {{msg.caption}}"},
        "attachment": {"conditions": "type=document,audio,ptt,video,sticker",
                       "body": "[{{msg.type}} {{msg.mediaData.filehash|||filehash|||id}}] {{msg.caption|||filename}}"},
        "on_closed_chat": "pending",
        "chat_id_template": "{chat_id}",
    },
    rest_api={
        "name": "open-wa sendText",
        "method": "POST",
        "url": "<<base_url>>/sendText",
        "headers": {"Content-Type": "application/json", "api_key": "<<api_key>>"},
        "body": '{"args": {"to": {{chat_id_template}}, "content": {{msg_url}}}}',
        "success_codes": [200, 201],
    },
    media={"image": {"body": "{{msg.caption}}", "fetch": _DECRYPT_MEDIA},
           "attachment": {"body": "[{{msg.type}}] {{msg.caption|||filename}}", "fetch": _DECRYPT_MEDIA}},
    webhook_url="<<webhook_url>>?secret=<<secret>>",
    setup=(
        "Start open-wa with this webhook (v4: --webhook; v5: register it for message.received):",
        "  npx @open-wa/wa-automate --key \"$OPENWA_KEY\" --webhook '<<webhook_url>>'",
    ),
)


# Operator files (LHC sends them with sendFile and the file's URL): images with sendImage, the rest with sendFile;
# both take a URL, a file name and a caption.
_FILE_HEADERS = {"Content-Type": "application/json", "api_key": "<<api_key>>"}
_FILE_BODY = ('{"args": {"to": {{chat_id_template}}, "file": {{file_url}}, "filename": {{file_name}}, '
              '"caption": {{msg_clean}}}}')
FILES = (
    FileReply(name="image", conditions=("{args.file.kind} = image",),
              rest_api={"name": "open-wa sendImage", "method": "POST", "url": "<<base_url>>/sendImage",
                        "headers": _FILE_HEADERS, "body": _FILE_BODY, "success_codes": [200, 201]}),
    FileReply(name="file", conditions=("{args.file.kind} = attachment",),
              rest_api={"name": "open-wa sendFile", "method": "POST", "url": "<<base_url>>/sendFile",
                        "headers": _FILE_HEADERS, "body": _FILE_BODY, "success_codes": [200, 201]}),
)
PRESET = PRESET.model_copy(update={"files": FILES})
