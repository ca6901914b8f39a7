"""Sending, editing and deleting messages, answering button presses, chat actions."""

from __future__ import annotations

from typing import Any

from emulator.api.base import CAPTION_LIMIT, TEXT_LIMIT, ApiBase, ApiError, Params, bad_request
from emulator.world import Event, Message

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


class MessageMethods(ApiBase):
    """sendMessage, the edits, deleteMessage(s), answerCallbackQuery, sendChatAction."""

    async def api_sendmessage(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params)
        text, entities = self.formatted(params, "text", TEXT_LIMIT, required=True)
        markup = self.markup(params)
        return self.bot_sends(chat, params, text=text, entities=entities, reply_markup=markup)

    async def api_editmessagetext(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params, sending=False)
        message = self.message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        text, entities = self.formatted(params, "text", TEXT_LIMIT, required=True)
        markup = self.markup(params)
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        message.text, message.entities, message.reply_markup = text, entities, markup
        return self.edited(message, params)

    async def api_editmessagecaption(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params, sending=False)
        message = self.message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        if message.photo is None and message.document is None:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self.formatted(params, "caption", CAPTION_LIMIT, required=False)
        markup = self.markup(params)
        old = (message.caption, message.caption_entities, message.reply_markup)
        if (caption, entities, markup) == old:
            raise ApiError(400, NOT_MODIFIED)
        message.caption, message.caption_entities, message.reply_markup = caption, entities, markup
        return self.edited(message, params)

    async def api_editmessagereplymarkup(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params, sending=False)
        message = self.message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        markup = self.markup(params)
        if markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        message.reply_markup = markup
        return self.edited(message)

    def edited(self, message: Message, params: Params | None = None) -> dict[str, Any]:
        if params is not None:
            message.raw, message.parse_mode = self.as_sent(params).values()
        message.edit_date = self.world.now()
        self.world.record(Event("edit", message.chat, message))
        return message.to_dict()

    async def api_deletemessage(self, params: Params) -> bool:
        chat = self.chat(params, sending=False)
        message = self.message(chat, params, "message to delete not found")
        bot_is_admin = chat.members.get(self.world.bot.id) in ("administrator", "creator")
        if not (message.from_bot or chat.type == "private" or bot_is_admin):
            raise bad_request("message can't be deleted")
        message.deleted = True
        self.world.record(Event("delete", chat, message))
        return True

    async def api_deletemessages(self, params: Params) -> bool:
        chat = self.chat(params, sending=False)
        for message_id in params.json("message_ids") or []:
            message = chat.find(int(message_id))
            if message is not None and (message.from_bot or chat.type == "private"):
                message.deleted = True
                self.world.record(Event("delete", chat, message))
        return True

    async def api_answercallbackquery(self, params: Params) -> bool:
        query = self.world.queries.get(str(params.require("callback_query_id")))
        too_late = query is not None and (
            self.world.clock.now() - query.created > self.config.callback_timeout
        )
        if query is None or query.answer.done() or too_late:
            raise bad_request(QUERY_TOO_OLD)
        text = str(params.get("text") or "")
        if len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = {"text": text, "show_alert": params.flag("show_alert"), "url": params.get("url")}
        query.answer.set_result(answer)
        self.world.record(Event("callback_answer", query.message.chat, query.message, answer))
        return True

    async def api_sendchataction(self, params: Params) -> bool:
        chat = self.chat(params)
        action = str(params.require("action"))
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.world.chat_actions.append((chat.id, action))
        self.world.record(Event("chat_action", chat, None, {"action": action}))
        return True
