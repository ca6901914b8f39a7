"""Who the bot may still write to: chats that blocked the bot, or removed it from the group, are
inactive until they speak to it again.

Telegram answers 403 Forbidden to anything sent to a person who blocked the bot (and tells the
bot in a my_chat_member update); the send policy (`bot.sending`) reports that here and refuses
further sends to the chat without a call, so periodic jobs and movie-night announcements skip
it. Any new update from the chat makes it active again. The set lives in memory (one look-up
per update, no database access in the common case) over the `inactive_chats` table, which
keeps it across restarts.
"""

from __future__ import annotations

from storage import users
from storage.db import Database


class Audience:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._inactive = set(users.inactive_chats(db))

    def is_active(self, chat_id: int) -> bool:
        """Memory only (no database, no waiting): callable from the event loop, as the send
        policy and the handler that notices a chat speaking again do for every update."""
        return chat_id not in self._inactive

    def inactive(self) -> frozenset[int]:
        return frozenset(self._inactive)

    def went_away(self, chat_id: int, reason: str) -> bool:
        """The chat blocked or removed the bot (Telegram's words in `reason`, no user text);
        True if it was active until now."""
        if chat_id in self._inactive:
            return False
        users.mark_inactive(self._db, chat_id, reason)
        self._inactive.add(chat_id)
        return True

    def heard_from(self, chat_id: int) -> bool:
        """An update came from the chat; True if that made it active again."""
        if chat_id not in self._inactive:
            return False
        users.mark_active(self._db, chat_id)
        self._inactive.discard(chat_id)
        return True
