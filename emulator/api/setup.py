"""Who the bot is and how it is set up: getMe, webhooks, commands, descriptions."""

from __future__ import annotations

import json
from typing import Any

from emulator.api.base import ApiBase, Params, bad_request


class SetupMethods(ApiBase):
    """getMe, setWebhook and friends, setMyCommands and friends."""

    async def api_getme(self, params: Params) -> dict[str, Any]:
        return {
            **self.world.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.config.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def api_deletewebhook(self, params: Params) -> bool:
        self.webhook_url, self.webhook_secret = "", None
        if params.flag("drop_pending_updates"):
            self.world.updates.clear()
        return True

    async def api_setwebhook(self, params: Params) -> bool:
        self.webhook_url = str(params.require("url"))
        secret = params.get("secret_token")
        self.webhook_secret = str(secret) if secret else None
        allowed = params.json("allowed_updates")
        if isinstance(allowed, list):
            self.world.allowed_updates = frozenset(allowed) if allowed else None
        self.world.update_added.notify()  # the delivery starts (emulator.delivery)
        return True

    async def api_getwebhookinfo(self, params: Params) -> dict[str, Any]:
        pending = len(self.world.updates)
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
        }

    async def api_close(self, params: Params) -> bool:
        return True

    api_logout = api_close

    def _scope_key(self, params: Params) -> tuple[str, str]:
        scope = params.json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def api_setmycommands(self, params: Params) -> bool:
        commands = params.json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100 BotCommand")
        for command in commands:
            name = str(command.get("command", ""))
            if not (1 <= len(name) <= 32 and name.replace("_", "").isalnum() and name.islower()):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.world.commands[self._scope_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def api_getmycommands(self, params: Params) -> list[dict[str, Any]]:
        return self.world.commands.get(self._scope_key(params), [])

    async def api_deletemycommands(self, params: Params) -> bool:
        self.world.commands.pop(self._scope_key(params), None)
        return True

    async def api_setmydescription(self, params: Params) -> bool:
        return True

    api_setmyshortdescription = api_setchatmenubutton = api_setmyname = api_setmydescription
