"""One subscribed WeCom 智能机器人 long connection: commands and their acknowledgements, matched by ``req_id``.

Frames are JSON ``{cmd, headers: {req_id}, body}`` (PLATFORMS.md addendum §4). What duban sends (subscribe,
ping, a reply, an active send) is acknowledged by a frame with the same ``req_id`` and an ``errcode``; what
the platform pushes carries a ``cmd``. A reply to a message reuses the ``req_id`` of its callback, which is
valid only on the connection that received it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

import aiohttp

ACK_SECONDS = 5.0


class CommandFailed(Exception):
    """The platform acknowledged a command with a non-zero errcode."""

    def __init__(self, cmd: str, errcode: int, errmsg: str) -> None:
        super().__init__(f"{cmd}: errcode {errcode}")
        self.cmd = cmd
        self.errcode = errcode
        self.errmsg = errmsg[:200]


class NotSent(Exception):
    """The command could not be written (the connection is closed): it certainly did not arrive."""


def new_req_id(cmd: str) -> str:
    return f"{cmd}_{int(time.time() * 1000)}_{secrets.token_hex(4)}"


class BotSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, name: str) -> None:
        self.ws = ws
        self.name = name  # ``instance#n``: a reply route names the connection its req_id belongs to
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.replied: set[str] = set()  # callback req_ids already answered on this connection

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def command(self, cmd: str, body: dict[str, Any] | None = None, *, req_id: str = "") -> dict[str, Any]:
        """Send ``cmd`` and wait for its acknowledgement; raises :class:`CommandFailed`, :class:`NotSent`, or
        ``TimeoutError`` when no acknowledgement came (the command may have arrived)."""
        req_id = req_id or new_req_id(cmd)
        frame: dict[str, Any] = {"cmd": cmd, "headers": {"req_id": req_id}}
        if body is not None:
            frame["body"] = body
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[req_id] = answer
        try:
            if self.ws.closed:
                raise NotSent(cmd)
            try:
                await self.ws.send_str(json.dumps(frame, ensure_ascii=False))
            except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
                raise NotSent(cmd) from exc
            acknowledged = await asyncio.wait_for(answer, ACK_SECONDS)
        finally:
            self.pending.pop(req_id, None)
        errcode = acknowledged.get("errcode", 0)
        if errcode != 0:
            raise CommandFailed(cmd, errcode if isinstance(errcode, int) else -1, str(acknowledged.get("errmsg", "")))
        return acknowledged

    def acknowledged(self, frame: dict[str, Any]) -> bool:
        """Hand an acknowledgement to the command waiting for it; ``False`` when none waits."""
        headers = frame.get("headers")
        req_id = headers.get("req_id") if isinstance(headers, dict) else None
        waiting = self.pending.get(req_id) if isinstance(req_id, str) else None
        if waiting is None or waiting.done():
            return False
        waiting.set_result(frame)
        return True

    def fail_pending(self) -> None:
        """The connection closed: whoever waits for an acknowledgement will not get one."""
        for waiting in self.pending.values():
            if not waiting.done():
                waiting.set_exception(TimeoutError())
