"""Sliding-window send limits, counted from the send log (pure functions; the queries live in ``outbox_claim``).

A platform that allows ``limit`` messages per ``seconds`` is treated as a sliding window, the strictest reading
of "20 per minute": then a fixed-minute counter on the platform's side is satisfied too. Each window is widened
by a small margin, because the platform stamps a request when it arrives, not when we logged it, and the two
clocks differ by the request's latency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Window:
    """At most ``limit`` requests in any ``seconds``-long stretch."""

    limit: int
    seconds: float

    @property
    def span(self) -> timedelta:
        margin = max(0.25, self.seconds * 0.05)
        return timedelta(seconds=self.seconds + margin)


@dataclass(frozen=True)
class RatePolicy:
    """How often one rate key may be used.

    ``once``: the key carries a single successful request, ever (a WeCom 智能机器人 ``response_url``).
    """

    windows: tuple[Window, ...] = ()
    once: bool = False

    @property
    def depth(self) -> int:
        """How many recent log entries decide this policy (the largest window's limit)."""
        return max((window.limit for window in self.windows), default=0)

    @property
    def horizon(self) -> timedelta:
        return max((window.span for window in self.windows), default=timedelta(0))


UNLIMITED = RatePolicy()


def next_slot(recent: Sequence[datetime], policy: RatePolicy, now: datetime) -> datetime | None:
    """When the next request may go, or ``None`` if it may go ``now``.

    ``recent`` holds the key's logged request times, newest first (at least ``policy.depth`` of them when
    there are that many within ``policy.horizon``).
    """
    slot: datetime | None = None
    for window in policy.windows:
        inside = [at for at in recent if at > now - window.span]
        if len(inside) >= window.limit:
            frees_at = inside[window.limit - 1] + window.span
            slot = frees_at if slot is None else max(slot, frees_at)
    return slot if slot is not None and slot > now else None
