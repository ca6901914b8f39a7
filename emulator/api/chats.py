"""What the bot can ask about a chat and its members, and leaving a group."""

from __future__ import annotations

from typing import Any

from emulator.api.base import ApiBase, Params, bad_request


class ChatMethods(ApiBase):
    """getChat, getChatMember, getChatAdministrators, getChatMemberCount, leaveChat."""

    async def api_getchat(self, params: Params) -> dict[str, Any]:
        return self.chat(params, sending=False).full_info()

    async def api_getchatmember(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params, sending=False)
        account = self.account(params.integer("user_id"))
        return self.world.member_dict(chat, account)

    async def api_getchatadministrators(self, params: Params) -> list[dict[str, Any]]:
        chat = self.chat(params, sending=False)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        return [
            self.world.member_dict(chat, self.world.accounts[uid], status)
            for uid, status in chat.members.items()
            if status in ("creator", "administrator")
        ]

    async def api_getchatmembercount(self, params: Params) -> int:
        chat = self.chat(params, sending=False)
        if chat.type == "private":
            return 2
        return sum(1 for s in chat.members.values() if s in ("creator", "administrator", "member"))

    async def api_leavechat(self, params: Params) -> bool:
        chat = self.chat(params, sending=False)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        chat.members[self.world.bot.id] = "left"
        return True
