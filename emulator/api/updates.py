"""getUpdates: long polling, allowed_updates, offsets, and the 409 of a second poller."""

from __future__ import annotations

import asyncio
from typing import Any

from emulator.api.base import ApiBase, ApiError, Params

POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
KNOWN_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


class UpdateMethods(ApiBase):
    """Hands out queued updates to one long-polling bot at a time."""

    async def api_getupdates(self, params: Params) -> list[dict[str, Any]]:
        """Long polling: return at once when updates are queued, else wait up to `timeout`."""
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        polling = self.polling
        polling.generation += 1
        mine = polling.generation
        self.world.update_added.notify()  # an older poller wakes up and sees it lost
        allowed = params.json("allowed_updates")
        if isinstance(allowed, list):
            self.world.allowed_updates = (
                frozenset(a for a in allowed if a in KNOWN_UPDATE_TYPES) if allowed else None
            )
        self.acknowledge(params.integer("offset"))
        limit = min(max(params.integer("limit", 100) or 100, 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        polling.active += 1
        try:
            while True:
                if polling.generation != mine:
                    raise ApiError(409, POLL_CONFLICT)
                batch = [u for u in self.world.updates if self.world.allows(_kind(u))][:limit]
                remaining = deadline - loop.time()
                if batch or remaining <= 0 or polling.closing:
                    break
                await self.world.update_added.wait(remaining)
        finally:
            polling.active -= 1
        if batch:
            polling.delivered_upto = max(polling.delivered_upto, batch[-1]["update_id"])
            polling.handed_out.update(u["update_id"] for u in batch)
        return batch

    def acknowledge(self, offset: int | None) -> None:
        """Forget updates before `offset`; a negative offset keeps only the last -offset."""
        updates = self.world.updates
        if offset is None:
            return
        if offset < 0:
            del updates[: max(len(updates) + offset, 0)]
        else:
            updates[:] = [u for u in updates if u["update_id"] >= offset]

    def pending_updates(self) -> int:
        """Updates queued that no getUpdates call has handed out yet."""
        return sum(
            1
            for u in self.world.updates
            if u["update_id"] > self.polling.delivered_upto and self.world.allows(_kind(u))
        )

    def updates_not_taken(self) -> int:
        """Updates queued that the bot has not confirmed with a later getUpdates offset: not
        yet handed out, or handed out and perhaps still on their way into the bot."""
        return sum(1 for u in self.world.updates if self.world.allows(_kind(u)))


def _kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")
