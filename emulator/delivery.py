"""What Telegram tells the bot when people act, and what it keeps from the bot.

A group message reaches a bot in privacy mode only if it is a command for that bot, a reply
to one of its messages or a service message (unless the bot is an administrator); a change
of membership becomes `my_chat_member` (the bot's own) or `chat_member` (anyone else's).
"""

from __future__ import annotations

from emulator.world import Account, Chat, Message, World


def deliver_message(world: World, chat: Chat, message: Message, *, privacy_mode: bool) -> bool:
    """Queue a `message` update, unless privacy mode hides it in a group; False if hidden."""
    if chat.type != "private" and not bot_sees(world, chat, message, privacy_mode=privacy_mode):
        return False
    world.push_update("message", message.to_dict())
    return True


def bot_sees(world: World, chat: Chat, message: Message, *, privacy_mode: bool) -> bool:
    """Whether Telegram shows this group message to the bot."""
    bot = world.bot
    bot_status = chat.members.get(bot.id, "left")
    if bot_status in ("left", "kicked"):
        return False
    if not privacy_mode or bot_status in ("administrator", "creator"):
        return True
    if message.service or (message.reply_to is not None and message.reply_to.from_bot):
        return True
    text = message.text or ""
    for entity in message.entities:
        if entity["type"] == "bot_command":
            command = text[entity["offset"] : entity["offset"] + entity["length"]]
            target = command.partition("@")[2]
            if not target or target.lower() == (bot.username or "").lower():
                return True
    return False


def member_update(
    world: World, chat: Chat, account: Account, by: Account, old: str, new: str
) -> None:
    """`my_chat_member` (the bot) or `chat_member` (anyone else) for a status change."""
    payload = {
        "chat": chat.to_dict(),
        "from": by.to_dict(),
        "date": world.now(),
        "old_chat_member": world.member_dict(chat, account, old),
        "new_chat_member": world.member_dict(chat, account, new),
    }
    kind = "my_chat_member" if account.id == world.bot.id else "chat_member"
    world.push_update(kind, payload)
