"""The assembled service: the application shell with every channel and worker duban runs."""

from __future__ import annotations

import asyncio
from functools import partial

from aiohttp import web

from bot.app import create_app
from bot.config import Settings
from bot.inbound import inbound_channels
from bot.inbox_worker import inbox_worker
from bot.outbound.dispatcher import dispatcher
from bot.scheduler import scheduler_worker


def build_app(settings: Settings) -> web.Application:
    inbox_stored = asyncio.Event()  # set by the inbound edge, awaited by the inbox worker
    return create_app(
        settings,
        channels=inbound_channels(settings, inbox_stored),
        workers=[
            ("inbox", partial(inbox_worker, wakeup=inbox_stored)),
            ("scheduler", scheduler_worker),
            ("outbound", dispatcher),
        ],
    )
