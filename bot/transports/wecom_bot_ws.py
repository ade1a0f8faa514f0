"""The WeCom 智能机器人 long connection (长连接): group @-messages and 1:1 messages with no public address.

Protocol (PLATFORMS.md addendum §4): open a websocket to ``ws_url``, send ``aibot_subscribe`` with the bot's id
and secret, ``ping`` every 30 s; the platform pushes ``aibot_msg_callback`` (a message, same JSON as the HTTP
callback's plaintext) and ``aibot_event_callback`` (``enter_chat``, ``disconnected_event`` …). Replies go back
on the connection (``bot.outbound.senders.wecom_bot_ws``).

A bot allows **one** live connection: a new subscription kicks the old one with ``disconnected_event``. So
among several instances exactly one holds the connection, through a lease in the database
(:mod:`bot.transports.lease_keeper`); the others stand by and take over within 30 s when the holder dies.
The holder also runs the only outbound pump for the connection's channel, so that no other instance tries
to send on a connection it does not have.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import replace
from typing import Any

import aiohttp

from bot.context import AppContext
from bot.inbound.edge import Inbox, Refused
from bot.inbound.wecom_bot import parse_bot_message
from bot.net import client_session, tls_context
from bot.outbound.dispatcher import Pump, options_from
from bot.outbound.senders.context import SendContext
from bot.outbound.senders.wecom_bot_ws import CHANNEL, WecomBotSocketSender
from bot.transports.backoff import Backoff, pause
from bot.transports.lease_keeper import LeaseKeeper, standby_pause
from bot.transports.status import LinkStatus
from bot.transports.wecom_socket import BotSocket, CommandFailed, NotSent
from storage.inbox import ReplyRoute
from storage.models import utcnow

log = logging.getLogger(__name__)

TRANSPORT = "wecom_bot_ws"
HEARTBEAT_SECONDS = 30.0
MISSED_PINGS = 2
KICKED_PAUSE_SECONDS = 60.0  # another connection took the bot: do not kick it straight back
STORE_RETRY_SECONDS = 2.0


class Kicked(Exception):
    """The platform said another connection subscribed with this bot (``disconnected_event``)."""


class WecomBotLink:
    """This instance's part: stand by, or hold the lease and keep the connection open."""

    def __init__(self, ctx: AppContext, inbox: Inbox, link: LinkStatus) -> None:
        config = ctx.settings.wecom.bot
        self.ctx = ctx
        self.bot_id = config.bot_id
        self._secret = config.secret.get_secret_value()
        self.ws_url = config.ws_url
        self.ssl = tls_context(ctx.settings.network.ca_file, config.ca_file)
        self.inbox = inbox
        self.link = link
        self.lease = LeaseKeeper(ctx.db, f"wecom_bot:{self.bot_id}", ctx.instance_id)
        self.socket: BotSocket | None = None
        self.connections = 0

    async def run(self, stopping: asyncio.Event) -> None:
        async with client_session(self.ctx.settings.network) as http:
            self.sender = WecomBotSocketSender(SendContext(self.ctx.settings, http, self.ctx.db), lambda: self.socket)
            while not stopping.is_set():
                state = await self.lease.try_acquire()
                if not state.held_by_me:
                    self.link.state, self.link.holder = "standby", state.holder or None
                    if await pause(stopping, standby_pause()):
                        break
                    continue
                if state.took_over_from:
                    self.link.took_over()
                    log.warning("wecom bot: took the connection over from %s", state.took_over_from)
                self.link.holder = self.ctx.instance_id
                keeper = asyncio.create_task(self.lease.keep(), name="duban:wecom-bot-lease")
                try:
                    await self.hold(http, stopping)
                finally:
                    keeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await keeper
            await self.lease.release()
        self.link.state = "stopped"

    async def hold(self, http: aiohttp.ClientSession, stopping: asyncio.Event) -> None:
        """Connect and reconnect while the lease is held and the service runs."""
        backoff = Backoff(cap=30.0)
        ended = asyncio.Event()  # stopping or the lease lost
        watchers = [asyncio.create_task(_relay(stopping, ended)), asyncio.create_task(_relay(self.lease.lost, ended))]
        try:
            while not ended.is_set():
                if self.connections:
                    self.link.reconnecting()
                else:
                    self.link.state = "connecting"
                wait = None
                try:
                    await self.connect(http, ended, backoff)
                    reason = "stopping"
                except Kicked:
                    reason = "another connection subscribed with this bot (disconnected_event)"
                    log.error("wecom bot: %s; is a second deployment using the same bot_id?", reason)
                    wait = KICKED_PAUSE_SECONDS
                except CommandFailed as failed:
                    reason = f"{failed.cmd} refused, errcode {failed.errcode}"
                    log.error("wecom bot: %s", reason)
                except (aiohttp.ClientError, TimeoutError, OSError, NotSent, ValueError) as exc:
                    reason = type(exc).__name__
                    log.warning("wecom bot: connection lost (%s)", reason)
                self.link.lost(reason)
                if ended.is_set() or await pause(ended, wait or backoff.next_delay()):
                    break
        finally:
            for watcher in watchers:
                watcher.cancel()

    async def connect(self, http: aiohttp.ClientSession, ended: asyncio.Event, backoff: Backoff) -> None:
        async with http.ws_connect(self.ws_url, ssl=self.ssl, autoping=True, max_msg_size=0) as ws:
            self.connections += 1
            socket = BotSocket(ws, f"{self.ctx.instance_id}#{self.connections}")
            reader = asyncio.create_task(self.read(socket), name="duban:wecom-bot-read")
            try:
                await socket.command("aibot_subscribe", {"bot_id": self.bot_id, "secret": self._secret})
                self.socket = socket
                self.link.connected()
                backoff.failures = 0
                log.info("wecom bot: connected and subscribed")
                gone = asyncio.Event()
                pump = asyncio.create_task(self.pump(http, gone), name="duban:wecom-bot-pump")
                beat = asyncio.create_task(self.heartbeat(socket), name="duban:wecom-bot-ping")
                stop = asyncio.create_task(ended.wait())
                try:
                    done, _ = await asyncio.wait({reader, beat, stop}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    self.socket = None
                    gone.set()
                    for task in (beat, stop):
                        task.cancel()
                    await asyncio.gather(pump, return_exceptions=True)
                if reader in done:
                    reader.result()  # Kicked, or the reason it closed
                    raise aiohttp.ServerDisconnectedError()
                if beat in done:
                    beat.result()
            finally:
                socket.fail_pending()
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    async def heartbeat(self, socket: BotSocket) -> None:
        missed = 0
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await socket.command("ping")
                missed = 0
            except TimeoutError:
                missed += 1
                if missed >= MISSED_PINGS:
                    raise

    async def pump(self, http: aiohttp.ClientSession, gone: asyncio.Event) -> None:
        """Send the replies and posts queued for the connection, while it lasts."""
        pump = Pump(self.ctx, http, options_from(self.ctx.settings), channels={CHANNEL})
        pump.senders[CHANNEL] = self.sender
        await pump.run(gone)

    async def read(self, socket: BotSocket) -> None:
        async for message in socket.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                frame = json.loads(message.data)
            except ValueError:
                self.link.frame("other")
                continue
            if not isinstance(frame, dict):
                continue
            cmd = frame.get("cmd")
            if cmd is None:
                self.link.frame("ack")
                socket.acknowledged(frame)
                continue
            body = frame.get("body") if isinstance(frame.get("body"), dict) else {}
            headers = frame.get("headers") if isinstance(frame.get("headers"), dict) else {}
            req_id = str(headers.get("req_id", "")) if isinstance(headers, dict) else ""
            if cmd == "aibot_msg_callback" and isinstance(body, dict):
                self.link.frame("callback")
                await self.store(socket, body, req_id)
            elif cmd == "aibot_event_callback" and isinstance(body, dict):
                self.link.frame("event")
                event = body.get("event")
                if isinstance(event, dict) and event.get("eventtype") == "disconnected_event":
                    raise Kicked()
            else:
                self.link.frame("other")

    async def store(self, socket: BotSocket, body: dict[str, Any], req_id: str) -> None:
        try:
            message = parse_bot_message(json.dumps(body, ensure_ascii=False))
        except Refused as refused:
            log.warning("wecom bot: a message refused (%s)", refused.reason)
            return
        if message is None:
            return
        route = ReplyRoute(
            channel=CHANNEL,
            target=message.chat_id,
            rate_key=f"{CHANNEL}:{message.chat_id}",
            address={
                "req_id": req_id,
                "connection": socket.name,
                "chatid": message.chat_id,
                "received_at": utcnow().isoformat(),
            },
        )
        message = replace(message, reply=route)
        while True:
            try:
                await self.inbox.store(self.ctx.db, message)
                return
            except Refused as refused:
                if refused.status != 503:
                    log.warning("wecom bot: %s not stored (%s)", message.message_id, refused.reason)
                    return
            await asyncio.sleep(STORE_RETRY_SECONDS)


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


async def wecom_bot_ws_worker(ctx: AppContext, stopping: asyncio.Event, *, inbox: Inbox, link: LinkStatus) -> None:
    """The service's worker (``bot.lifecycle.Worker`` once ``inbox`` and ``link`` are bound)."""
    await WecomBotLink(ctx, inbox, link).run(stopping)
