"""The inbound edge: one module per platform, each an application :class:`~bot.app.Channel`.

Every channel feeds the same pipeline: verify → store in the inbox → answer at once → (the inbox worker)
handle. A channel whose credentials are not configured is off: its routes do not exist (404) and the
start-up log says which keys turn it on.
"""

from __future__ import annotations

from bot.app import Channel
from bot.config import Settings
from bot.inbound.dingtalk import dingtalk_channel
from bot.inbound.edge import Inbox
from bot.inbound.sandbox import sandbox_channel
from bot.inbound.wecom_app import wecom_app_channel
from bot.inbound.wecom_bot import wecom_bot_channel
from bot.inbox_signal import InboxSignal


def inbound_channels(settings: Settings, signal: InboxSignal, inbox: Inbox | None = None) -> list[Channel]:
    """Every inbound channel, on or off, telling this process's inbox worker through ``signal`` (``inbox``:
    the one the long-connection transports share, if any)."""
    inbox = inbox or Inbox(signal)
    return [
        wecom_bot_channel(settings, inbox),
        wecom_app_channel(settings, inbox),
        dingtalk_channel(settings, inbox),
        sandbox_channel(settings, inbox),
    ]
