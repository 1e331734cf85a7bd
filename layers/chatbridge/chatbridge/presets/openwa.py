"""open-wa (wa-automate) WhatsApp: one spec for every body shape open-wa posts, replies through ``sendText``.

v4 posts either the bare message (a custom ``onMessage`` forwarder, Live Helper Chat's guide) or an
envelope with the message in ``data``; v5 webhooks wrap it as ``payload.message``. ``messages`` tries
``data``, then ``payload.message``, then the payload itself. Messages sent from the business's own phone
(``fromMe``) are stored as operator messages in their chat (``chatId``), and its acks (``onAck``, or a bare
``fromMe`` message read, ``ack`` 3/4, as Live Helper Chat's forwarder posts them) are receipts of replies,
which ``sendText``'s answer (``response``: the new message's id) names. A group message keeps who wrote it
(``author``) and is named by the group's subject when open-wa sends the chat along. open-wa cannot sign
webhooks, so the URL carries a shared secret as a query parameter.

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
    ignores="non-message events other than acks; acks of messages chatbridge did not send (counted, 200)",
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
        "messages": "data|||payload.message|||$root",
        "chat_id": "from",
        "nick": "sender.pushname|||notifyName|||sender.formattedName",
        "nick_fallback": "from||@||0",
        "phone": "from||@||0",
        "group": "isGroupMsg=true",
        "chat_name": "chat.formattedTitle|||chat.name|||chat.contact.name",
        "author_name": "sender.pushname|||notifyName|||sender.formattedName|||author||@||0",
        "author_id": "author|||sender.id",
        "operator": "fromMe=true",
        "operator_chat_id": "chatId|||to",
        "message_type": "type",
        "receipts": [
            {"items": "data", "conditions": "$root.event=onAck", "message_id": "id", "status": "ack",
             "status_map": {"1": "sent", "2": "delivered", "3": "read", "4": "read", "-1": "failed"}},
            {"conditions": "fromMe=true||ack=3,4||event!=__exists__", "message_id": "id", "state": "read"},
        ],
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
                       "body": "[{{msg.type}} {{msg.mediaData.filehash|||filehash|||id}}] {{msg.filename}} {{msg.caption}}"},
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
        "response_message_id": "response",
    },
    media={"image": {"body": "{{msg.caption}}", "fetch": _DECRYPT_MEDIA},
           "attachment": {"body": "[{{msg.type}}] {{msg.filename}} {{msg.caption}}", "fetch": _DECRYPT_MEDIA}},
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
