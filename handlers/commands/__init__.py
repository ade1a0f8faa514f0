"""The chat commands: importing this package registers every one of them."""

from handlers.commands import (
    announce,
    briefing,
    documents,
    help,
    items,
    login,
    meetings,
    remind,
    resend,
    rounds,
    show,
    status,
)

__all__ = [
    "announce",
    "briefing",
    "documents",
    "help",
    "items",
    "login",
    "meetings",
    "remind",
    "resend",
    "rounds",
    "show",
    "status",
]
