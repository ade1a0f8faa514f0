"""Prometheus metrics: what this instance did (counters) and what waits in the database (read at scrape time).

Counters and the histogram live in one registry of our own, :data:`REGISTRY`, not the library's global one,
so tests can build applications repeatedly. They count what *this process* did since it started; Prometheus
adds the instances up (``sum by (channel) (rate(...))``).

The inbox and outbox depths, the ages of the oldest waiting work, the requests to platforms that failed in
the last ten minutes (``duban_send_failures_recent``, as ``/healthz`` reports them) and each worker's
liveness are read when ``GET /metrics`` is scraped, so they are never stale. Depths and recent failures are
database-wide: every instance reports the same figures, so aggregate them with ``max``, not ``sum``.

Other modules record events through the small ``record_*`` / ``observe_*`` helpers below; label values
come from short fixed vocabularies to keep series few:

- ``duban_callbacks_total{channel, result}``: ``channel`` is the inbound endpoint (``wecom_bot``, ``wecom_app``,
  ``dingtalk_bot``, ``sandbox``); ``result`` one of :class:`CallbackResult`, recorded once per request by the
  edge's guard (``bot.inbound.edge.guarded``).
- ``duban_send_duration_seconds{channel}``, ``duban_send_failures_total{channel, errcode}`` and
  ``duban_rate_limit_waits_total{channel}``: ``channel`` is the outbound channel (``wecom_webhook``,
  ``dingtalk_robot``, ``feishu_bot``, ``wecom_response_url``, ``dingtalk_session``, ``wecom_app``,
  ``sandbox``), recorded by the dispatcher. ``errcode`` is what the outbox row records: the platform's
  errcode (``45009``, ``93000``…), ``http502``-style for an HTTP status, duban's own word for a row that
  could not be sent at all (``no_channel``, ``expired``…), else ``network`` / ``timeout`` for a request that
  got no answer and ``unknown`` for an answer without one (``storage.queue_stats.failure_errcode``).
- ``duban_job_runs_total{job, result}`` and ``duban_job_claims_lost_total{job}``: the configured job names.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from bot.appkeys import CONTEXT, LINKS, WORKERS
from bot.health import FAILURE_WINDOW, by_errcode, duban_version
from bot.transports.status import LinkBoard
from storage.db import Database
from storage.models import FileState, InboxState, OutboxState, utcnow
from storage.outbox_ops import state_counts as outbox_state_counts
from storage.queue_stats import (
    QueueAges,
    SendFailure,
    file_state_counts,
    inbox_state_counts,
    queue_ages,
    recent_send_failures,
)

log = logging.getLogger(__name__)

# The ``*_created`` series would double every counter for nothing we use.
disable_created_metrics()  # type: ignore[no-untyped-call]  # the library leaves it unannotated
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # memory, CPU, open files of this process
PlatformCollector(registry=REGISTRY)

CALLBACKS = Counter(
    "duban_callbacks",
    "Inbound requests to the platform endpoints, by channel and result (stored, duplicate, refused_*, …).",
    ["channel", "result"],
    registry=REGISTRY,
)
SEND_SECONDS = Histogram(
    "duban_send_duration_seconds",
    "Time one request to a platform's send API took, by outbound channel.",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
SEND_FAILURES = Counter(
    "duban_send_failures",
    "Failed sends, by outbound channel and platform errcode (or a transport failure such as timeout).",
    ["channel", "errcode"],
    registry=REGISTRY,
)
RATE_LIMIT_WAITS = Counter(
    "duban_rate_limit_waits",
    "Times a message waited for its rate-limit slot, by outbound channel.",
    ["channel"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "duban_job_runs",
    "Timed job occurrences this instance ran, by job and result.",
    ["job", "result"],
    registry=REGISTRY,
)
JOB_CLAIMS_LOST = Counter(
    "duban_job_claims_lost",
    "Timed job occurrences another instance claimed first (normal with several instances).",
    ["job"],
    registry=REGISTRY,
)

DATABASE_TIMEOUT_SECONDS = 5.0


class CallbackResult(enum.StrEnum):
    """How the edge answered one inbound request (the ``result`` label of ``duban_callbacks_total``)."""

    STORED = "stored"  # 200: a new message is in the inbox
    DUPLICATE = "duplicate"  # 200: a platform's retry of a stored message; nothing new
    IGNORED = "ignored"  # 200: acknowledged with nothing to store (a WeCom stream refresh)
    VERIFIED = "verified"  # 200: a WeCom callback-address verification (GET) answered
    OK = "ok"  # 200 by a path that named no finer result
    REFUSED_SIGNATURE = "refused_signature"  # 403: signature missing or wrong, or a wrong receiveid
    REFUSED_STALE = "refused_stale"  # 403: a timestamp outside the window, or not a number
    REFUSED_ORIGIN = "refused_origin"  # 403: the sandbox, asked from off this machine
    BAD_REQUEST = "bad_request"  # 400: a malformed body, ciphertext or field
    TOO_LARGE = "too_large"  # 413: over ``[server] max_body_bytes``
    UNSUPPORTED_TYPE = "unsupported_type"  # 415: a form body, or not JSON for the sandbox
    UNAVAILABLE = "unavailable"  # 503: the database could not take the row (the platform retries)
    ERROR = "error"  # 400: an unforeseen failure of ours while reading the request (logged)


def record_callback(channel: str, result: CallbackResult | str) -> None:
    """One inbound request answered, with its :class:`CallbackResult`."""
    CALLBACKS.labels(channel=channel, result=str(result)).inc()


def observe_send(channel: str, seconds: float) -> None:
    """Sending one part took ``seconds``, whatever its outcome (the WeCom app's access-token fetch included)."""
    SEND_SECONDS.labels(channel=channel).observe(seconds)


def record_send_failure(channel: str, errcode: str | int) -> None:
    """A request failed with the platform's ``errcode`` (or ``http502``, ``network``, ``timeout``…)."""
    SEND_FAILURES.labels(channel=channel, errcode=str(errcode)).inc()


def record_rate_limit_wait(channel: str) -> None:
    """A due row was held back until its rate key's next free slot (duban's own pacing, not a 45009)."""
    RATE_LIMIT_WAITS.labels(channel=channel).inc()


def record_job_run(job: str, result: str) -> None:
    """A timed job occurrence ran here: ``result`` is e.g. ``ok``, ``failed``, ``skipped``, ``caught_up``."""
    JOB_RUNS.labels(job=job, result=result).inc()


def record_claim_lost(job: str) -> None:
    JOB_CLAIMS_LOST.labels(job=job).inc()


@dataclass(frozen=True)
class QueueSnapshot:
    """What the database held when a scrape began."""

    inbox: Mapping[InboxState, int]
    outbox: Mapping[OutboxState, int]
    ages: QueueAges
    failures: list[SendFailure]
    files: Mapping[FileState, int]


async def read_queues(db: Database) -> QueueSnapshot:
    async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS), db.sessions() as session:
        now = utcnow()
        inbox = await inbox_state_counts(session)
        outbox = await outbox_state_counts(session)
        ages = await queue_ages(session, now=now)
        failures = await recent_send_failures(session, since=now - FAILURE_WINDOW)
        files = await file_state_counts(session)
    return QueueSnapshot(inbox=inbox, outbox=outbox, ages=ages, failures=failures, files=files)


@dataclass(frozen=True)
class ScrapeCollector:
    """The counters of :data:`REGISTRY` plus the families read for this one scrape."""

    snapshot: QueueSnapshot | None
    workers: Mapping[str, bool]
    links: LinkBoard | None = None

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()
        if self.links is not None:
            yield from _link_families(self.links)
        info = GaugeMetricFamily("duban_build_info", "The running duban version (always 1).", labels=["version"])
        info.add_metric([duban_version()], 1)
        yield info
        up = GaugeMetricFamily("duban_worker_up", "1 while this instance's background worker runs.", labels=["worker"])
        for name, running in sorted(self.workers.items()):
            up.add_metric([name], 1 if running else 0)
        yield up
        yield GaugeMetricFamily(
            "duban_database_up", "1 when this scrape could read the database.", value=0 if self.snapshot is None else 1
        )
        if self.snapshot is not None:
            yield from _queue_families(self.snapshot)


def _link_families(board: LinkBoard) -> Iterable[Metric]:
    frames = CounterMetricFamily(
        "duban_connection_frames",
        "Frames received on the long connections, by transport and kind (callback, event, ping, disconnect, other).",
        labels=["transport", "kind"],
    )
    reconnects = CounterMetricFamily(
        "duban_connection_reconnects",
        "Long connections this instance opened again after one closed, failed or was asked to go.",
        labels=["transport"],
    )
    takeovers = CounterMetricFamily(
        "duban_connection_takeovers",
        "Times this instance took over a single-holder connection (a WeCom bot) from another instance.",
        labels=["transport"],
    )
    connected = GaugeMetricFamily(
        "duban_connection_up", "1 while this instance's long connection is open.", labels=["transport"]
    )
    for name, link in sorted(board.links.items()):
        for kind, count in sorted(link.frames.items()):
            frames.add_metric([name, kind], count)
        reconnects.add_metric([name], link.reconnects)
        takeovers.add_metric([name], link.takeovers)
        connected.add_metric([name], 1 if link.state == "connected" else 0)
    yield from (frames, reconnects, takeovers, connected)


def _queue_families(snapshot: QueueSnapshot) -> Iterable[Metric]:
    inbox = GaugeMetricFamily("duban_inbox_depth", "Inbox rows by state (database-wide).", labels=["state"])
    for inbox_state, count in snapshot.inbox.items():
        inbox.add_metric([inbox_state.value], count)
    yield inbox
    outbox = GaugeMetricFamily("duban_outbox_depth", "Outbox rows by state (database-wide).", labels=["state"])
    for outbox_state, count in snapshot.outbox.items():
        outbox.add_metric([outbox_state.value], count)
    yield outbox
    files = GaugeMetricFamily(
        "duban_files", "Files people sent, by state: pending (fetch queue), stored, lost, refused.", labels=["state"]
    )
    for file_state, count in snapshot.files.items():
        files.add_metric([file_state.value], count)
    yield files
    yield GaugeMetricFamily(
        "duban_outbox_lag_seconds",
        "How long the oldest due pending outbox row has waited for the dispatcher (0 when none).",
        value=snapshot.ages.outbox_lag_seconds,
    )
    yield GaugeMetricFamily(
        "duban_inbox_oldest_pending_seconds",
        "How long the oldest pending inbox row has waited to be handled (0 when none).",
        value=snapshot.ages.inbox_age_seconds,
    )
    recent = GaugeMetricFamily(
        "duban_send_failures_recent",
        f"Requests to platforms that failed in the last {FAILURE_WINDOW.total_seconds() / 60:g} minutes, "
        "by errcode (database-wide: every instance's sends).",
        labels=["errcode"],
    )
    for errcode, count in by_errcode(snapshot.failures).items():
        recent.add_metric([errcode], count)
    yield recent


def render(snapshot: QueueSnapshot | None, workers: Mapping[str, bool], links: LinkBoard | None = None) -> bytes:
    return generate_latest(ScrapeCollector(snapshot, workers, links))


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics`` in the Prometheus text format; the counters still render when the database is down."""
    ctx = request.app[CONTEXT]
    workers = request.app[WORKERS]
    snapshot: QueueSnapshot | None
    try:
        snapshot = await read_queues(ctx.db)
    except Exception as exc:  # an unreachable database must not hide the counters
        log.warning("metrics: cannot read the queues (%s)", type(exc).__name__)
        snapshot = None
    body = render(snapshot, {name: workers.running(name) for name in workers.tasks}, request.app.get(LINKS))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
