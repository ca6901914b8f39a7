"""Polls the bot sends and stops (the votes come from the simulated people)."""

from __future__ import annotations

from typing import Any

from emulator.api.base import ApiBase, Params, bad_request
from emulator.world import Event, Poll


class PollMethods(ApiBase):
    """sendPoll and stopPoll, checked as Telegram checks them."""

    async def api_sendpoll(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params)
        question = str(params.require("question")).strip()
        if not 1 <= len(question) <= 300:
            raise bad_request("POLL_QUESTION_INVALID")
        raw_options = params.json("options") or []
        options = [str(o.get("text", "") if isinstance(o, dict) else o) for o in raw_options]
        if len(options) < 2:
            raise bad_request("poll must have at least 2 option")
        if len(options) > 12:
            raise bad_request("poll can't have more than 12 options")
        if any(not 1 <= len(o) <= 100 for o in options):
            raise bad_request("POLL_OPTION_INVALID")
        kind = str(params.get("type") or "regular")
        correct = params.integer("correct_option_id")
        if kind == "quiz" and (correct is None or not 0 <= correct < len(options)):
            raise bad_request("wrong correct option ID specified")
        poll = Poll(
            id=self.world.new_id("P"),
            question=question,
            options=options,
            is_anonymous=params.flag("is_anonymous", True),
            type=kind,
            allows_multiple_answers=params.flag("allows_multiple_answers"),
            correct_option_id=correct if kind == "quiz" else None,
            is_closed=params.flag("is_closed"),
        )
        self.world.polls[poll.id] = poll
        result = self.bot_sends(chat, params, poll=poll, reply_markup=self.markup(params))
        self.world.poll_messages[poll.id] = chat.messages[-1]
        return result

    async def api_stoppoll(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params, sending=False)
        message = self.message(chat, params, "message with poll to stop not found")
        if message.poll is None:
            raise bad_request("message with poll to stop not found")
        if message.poll.is_closed:
            raise bad_request("poll has already been closed")
        message.poll.is_closed = True
        markup = self.markup(params)
        if markup is not None:
            message.reply_markup = markup
        self.world.push_update("poll", message.poll.to_dict())
        self.world.record(Event("edit", chat, message))
        return message.poll.to_dict()
