"""What ``/healthz`` and ``/metrics`` say about the long connections this instance runs.

One :class:`LinkStatus` per connection (``dingtalk_stream``, ``wecom_bot_ws``, …), kept on a
:class:`LinkBoard` the application holds; the transports update it as frames come and go, and ``/metrics``
reads its counts at scrape time (``duban_connection_frames_total`` and the others in ``bot.metrics``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds") if moment is not None else None


@dataclass
class LinkStatus:
    transport: str
    state: str = "starting"  # starting | connecting | connected | waiting (to reconnect) | standby | stopped
    connected_since: float | None = None
    last_frame_at: float | None = None
    reconnects: int = 0
    holder: str | None = None  # the instance holding a single-holder connection
    last_error: str = ""
    frames: dict[str, int] = field(default_factory=dict)  # by kind: callback, event, ping, disconnect, other
    takeovers: int = 0

    def connected(self) -> None:
        self.state = "connected"
        self.connected_since = time.time()
        self.last_error = ""

    def frame(self, kind: str) -> None:
        self.last_frame_at = time.time()
        self.frames[kind] = self.frames.get(kind, 0) + 1

    def lost(self, reason: str) -> None:
        self.state = "waiting"
        self.connected_since = None
        self.last_error = reason

    def reconnecting(self) -> None:
        self.reconnects += 1
        self.state = "connecting"

    def took_over(self) -> None:
        self.takeovers += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "connected_since": _iso(self.connected_since),
            "last_frame_at": _iso(self.last_frame_at),
            "reconnects": self.reconnects,
            "frames": sum(self.frames.values()),
            "holder": self.holder,
            "last_error": self.last_error,
        }


@dataclass
class LinkBoard:
    links: dict[str, LinkStatus] = field(default_factory=dict)

    def link(self, transport: str) -> LinkStatus:
        return self.links.setdefault(transport, LinkStatus(transport))

    def as_dict(self) -> dict[str, Any]:
        return {name: link.as_dict() for name, link in sorted(self.links.items())}
