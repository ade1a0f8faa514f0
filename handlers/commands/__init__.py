"""The chat commands: importing this package registers every one of them."""

from handlers.commands import announce, briefing, help, items, login, remind, resend, show, status

__all__ = ["announce", "briefing", "help", "items", "login", "remind", "resend", "show", "status"]
