"""The assembled service: the application shell with every channel and worker duban runs."""

from __future__ import annotations

import gc
from functools import partial

from aiohttp import web

from bot.app import create_app
from bot.config import Settings
from bot.files.worker import fetch_worker
from bot.inbound import inbound_channels
from bot.inbox_signal import InboxSignal
from bot.inbox_worker import inbox_worker
from bot.outbound.dispatcher import dispatcher
from bot.scheduler import scheduler_worker
from handlers import dispatch  # noqa: F401  (loaded before the heap is frozen; the inbox worker runs it)


async def freeze_startup_heap(_app: web.Application) -> None:
    """What start-up loaded lives as long as the process: keep it out of the collector's full scans, which
    otherwise stop the event loop for 100 ms and more under load (measured with ``bench/inbound.py``)."""
    gc.collect()
    gc.freeze()


def build_app(settings: Settings) -> web.Application:
    inbox_signal = InboxSignal()  # from the inbound edge to the inbox worker
    app = create_app(
        settings,
        channels=inbound_channels(settings, inbox_signal),
        workers=[
            ("inbox", partial(inbox_worker, signal=inbox_signal)),
            ("scheduler", scheduler_worker),
            ("outbound", dispatcher),
            ("files", fetch_worker),
        ],
    )
    app.on_startup.append(freeze_startup_heap)
    return app
