"""The assembled service: the application shell with every channel, long connection and worker duban runs."""

from __future__ import annotations

import gc
from functools import partial

from aiohttp import web

from bot.app import create_app
from bot.appkeys import LINKS
from bot.config import Settings
from bot.files.worker import fetch_worker
from bot.inbound import inbound_channels
from bot.inbound.edge import Inbox
from bot.inbox_signal import InboxSignal
from bot.inbox_worker import inbox_worker
from bot.lifecycle import Worker
from bot.outbound.dispatcher import dispatcher
from bot.outbound.senders import SENDER_TYPES
from bot.outbound.senders.wecom_bot_ws import CHANNEL as WECOM_BOT_SOCKET
from bot.scheduler import scheduler_worker
from bot.transports.dingtalk_stream import TRANSPORT as DINGTALK_STREAM
from bot.transports.dingtalk_stream import dingtalk_stream_worker
from bot.transports.feishu_ws import TRANSPORT as FEISHU_WS
from bot.transports.feishu_ws import feishu_ws_worker
from bot.transports.status import LinkBoard
from bot.transports.wecom_bot_ws import TRANSPORT as WECOM_BOT_WS
from bot.transports.wecom_bot_ws import wecom_bot_ws_worker
from handlers import dispatch  # noqa: F401  (loaded before the heap is frozen; the inbox worker runs it)


async def freeze_startup_heap(_app: web.Application) -> None:
    """What start-up loaded lives as long as the process: keep it out of the collector's full scans, which
    otherwise stop the event loop for 100 ms and more under load (measured with ``bench/inbound.py``)."""
    gc.collect()
    gc.freeze()


def long_connections(settings: Settings, inbox: Inbox, board: LinkBoard) -> list[tuple[str, Worker]]:
    """The long-connection transports the configuration switches on, as workers."""
    workers: list[tuple[str, Worker]] = []
    if settings.dingtalk.transport == "stream":
        link = board.link(DINGTALK_STREAM)
        workers.append((DINGTALK_STREAM, partial(dingtalk_stream_worker, inbox=inbox, link=link)))
    if settings.wecom.bot.transport == "websocket":
        link = board.link(WECOM_BOT_WS)
        workers.append((WECOM_BOT_WS, partial(wecom_bot_ws_worker, inbox=inbox, link=link)))
    if settings.feishu.transport == "websocket":
        link = board.link(FEISHU_WS)
        workers.append((FEISHU_WS, partial(feishu_ws_worker, inbox=inbox, link=link)))
    return workers


def dispatcher_channels(settings: Settings) -> set[str] | None:
    """What the service's dispatcher sends: everything, except the rows only a connection's holder can send."""
    if settings.wecom.bot.transport != "websocket":
        return None
    return {sender.channel for sender in SENDER_TYPES} - {WECOM_BOT_SOCKET}


def build_app(settings: Settings) -> web.Application:
    inbox_signal = InboxSignal()  # from the inbound edge to the inbox worker
    inbox = Inbox(inbox_signal)
    board = LinkBoard()
    app = create_app(
        settings,
        channels=inbound_channels(settings, inbox_signal, inbox),
        workers=[
            ("inbox", partial(inbox_worker, signal=inbox_signal)),
            ("scheduler", scheduler_worker),
            ("outbound", partial(dispatcher, channels=dispatcher_channels(settings))),
            *long_connections(settings, inbox, board),
            ("files", fetch_worker),
        ],
    )
    app[LINKS] = board
    app.on_startup.append(freeze_startup_heap)
    return app
