"""The chat commands: importing this package registers every one of them (order = order in the help text)."""

from handlers.commands import announce, help, show, status

__all__ = ["announce", "help", "show", "status"]
