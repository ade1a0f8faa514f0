"""The outbound dispatcher: takes due outbox rows, sends them within every limit, records what happened.

One loop per process (``dispatcher``), or one pass (``drain_once``) for a command that runs without the
service. Each turn it:

1. settles the sends that finished (one transaction for all of them: sent / next part / back-off / failed /
   uncertain, with the office's alerts);
2. claims due rows for the free send slots (one transaction: rows marked ``sending`` and their send-log
   entries committed *before* any request);
3. starts one task per claimed row — distinct rate keys in parallel, up to ``concurrency`` in flight.

A row whose request began but whose outcome never got recorded (the process died) is found by a sweep —
at start-up and every ``sweep_interval`` — once its owner is known dead or its lease has run out, and becomes
``uncertain``: never resent on its own, reported to the office.

Each request is timed (``duban_send_duration_seconds``), each answer that is not ``ok`` is counted by its
errcode (``duban_send_failures_total``), and each due row held back for a rate-limit slot is counted
(``duban_rate_limit_waits_total``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import aiohttp

from bot.config import NetworkConfig, Settings
from bot.context import AppContext
from bot.metrics import observe_send, record_rate_limit_wait, record_send_failure
from bot.net import client_session, tls_context
from bot.outbound.alerts import RowRef, alert_failure, alert_file_refused, alert_uncertain
from bot.outbound.limits import policy_for
from bot.outbound.senders import build_senders
from bot.outbound.senders.base import Kind, Outcome, Undeliverable, http_timeout
from bot.outbound.senders.context import SendContext
from storage.models import OutboxState
from storage.outbox_claim import Claim, claim_due, next_due
from storage.outbox_ops import (
    Settlement,
    first_attempts,
    mark_orphans_uncertain,
    prune_send_log,
    record_outcomes,
    sending_owners,
)
from storage.queue_stats import failure_errcode
from storage.ratelimit import RatePolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchOptions:
    concurrency: int = 128  # requests in flight at once (each to a different rate key)
    connect_timeout: float = 5.0  # a connect timeout is retried
    read_timeout: float = 10.0  # no answer this long after the request was written: uncertain
    lease: timedelta = timedelta(minutes=2)  # a row ``sending`` longer than this has lost its sender
    retry_base: float = 5.0  # back-off: base * 2^(failures-1), capped, with jitter
    retry_cap: float = 900.0
    give_up_after: timedelta = timedelta(hours=6)  # retryable failures this long after the first try: permanent
    poll_interval: float = 0.5  # how often an idle dispatcher looks for new rows
    claim_pause: float = 0.05  # with few slots free, claim at most this often
    sweep_interval: float = 30.0
    log_retention: timedelta = timedelta(days=30)
    # On shutdown, requests still unanswered this long after the stop are given up as uncertain (the office is
    # told), leaving time to record them within the service's drain (``bot.lifecycle.Workers``, 10 s).
    stop_grace: float = 6.0


def options_from(settings: Settings) -> DispatchOptions:
    """The dispatcher's options as configured in ``[outbound]``."""
    config = settings.outbound
    return DispatchOptions(
        concurrency=config.concurrency,
        read_timeout=config.read_timeout_seconds,
        give_up_after=timedelta(hours=config.give_up_hours),
    )


@dataclass(frozen=True)
class Finished:
    claim: Claim
    outcome: Outcome
    parts: int


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(failures: int, hint: float | None, options: DispatchOptions) -> float:
    """Seconds to wait after the ``failures``-th failed attempt: capped exponential with jitter, ≥ the hint."""
    ceiling = min(options.retry_cap, options.retry_base * 2 ** min(failures - 1, 30))
    delay = random.uniform(ceiling / 2, ceiling)
    if hint is not None:
        delay = max(delay, hint + random.uniform(0, min(5.0, hint / 10)))
    return delay


def owner_is_dead(owner: str) -> bool:
    """``owner`` (``host:pid:tag``) ran on this host in a process that no longer exists."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@asynccontextmanager
async def http_session(
    options: DispatchOptions, network: NetworkConfig | None = None
) -> AsyncIterator[aiohttp.ClientSession]:
    """The one HTTP client of a dispatcher: pooled connections, connect and read deadlines, the proxy."""
    network = network or NetworkConfig()
    connector = aiohttp.TCPConnector(limit=options.concurrency, limit_per_host=0, ssl=tls_context(network.ca_file))
    async with client_session(
        network,
        connector=connector,
        timeout=http_timeout(connect=options.connect_timeout, read=options.read_timeout),
    ) as session:
        yield session


@dataclass
class Pump:
    """Claims, sends and settles; shared by the service's worker and by ``drain_once``."""

    ctx: AppContext
    http: aiohttp.ClientSession
    options: DispatchOptions = field(default_factory=DispatchOptions)
    channels: Collection[str] | None = None
    settled: int = 0  # rows that reached a final state (sent, failed, uncertain) through this pump

    def __post_init__(self) -> None:
        self.senders = build_senders(SendContext(self.ctx.settings, self.http, self.ctx.db))
        self.groups = {group.name: group for group in self.ctx.settings.groups}
        self.in_flight: set[asyncio.Task[None]] = set()
        self.finished: list[Finished] = []
        self.progress = asyncio.Event()  # a send finished or outcomes were recorded: there may be work
        self.settling: asyncio.Task[None] | None = None
        self.settle_error: Exception | None = None
        self.giving_up = False  # shutting down: in-flight requests are being cancelled and recorded as uncertain
        self._last_claim = 0.0

    # ---- claiming and sending ---------------------------------------------------------------------------

    def _policy(self, row: Claim) -> RatePolicy:
        return policy_for(row, self.groups)

    def _worth_claiming(self) -> bool:
        """Claim when a quarter of the slots are free, when nothing is in flight, or after a short pause.

        Claiming costs a transaction whatever its size; waiting for slots to gather keeps broadcasts from
        paying one transaction per freed slot, and the pause bounds the wait behind slow requests.
        """
        free = self.options.concurrency - len(self.in_flight)
        if free <= 0:
            return False
        if not self.in_flight or free >= max(1, self.options.concurrency // 4):
            return True
        return asyncio.get_running_loop().time() - self._last_claim >= self.options.claim_pause

    async def claim_and_launch(self) -> int:
        free = self.options.concurrency - len(self.in_flight)
        if free <= 0:
            return 0
        self._last_claim = asyncio.get_running_loop().time()
        async with self.ctx.db.transaction() as session:
            result = await claim_due(
                session,
                now=utcnow(),
                instance=self.ctx.instance_id,
                limit=free,
                policy_of=self._policy,
                channels=self.channels,
            )
        self.settled += len(result.spent)
        for deferred in result.deferred:
            record_rate_limit_wait(deferred.channel)
        for claim in result.claimed:
            task = asyncio.create_task(self._deliver(claim), name=f"duban:outbox:{claim.id}")
            self.in_flight.add(task)
            task.add_done_callback(self._done)
        return len(result.claimed)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self.progress.set()

    async def _deliver(self, claim: Claim) -> None:
        parts = 1
        try:
            sender = self.senders.get(claim.channel)
            if sender is None:
                raise Undeliverable(
                    Outcome.permanent(f"未知的发送渠道 {claim.channel}", "请联系系统维护人员。", errcode="no_channel")
                )
            payloads = sender.payloads(claim)
            parts = len(payloads)
            if claim.parts_sent >= parts:
                outcome = Outcome.ok()
            else:
                started = time.perf_counter()
                outcome = await sender.send(claim, payloads[claim.parts_sent])
                observe_send(claim.channel, time.perf_counter() - started)
        except Undeliverable as exc:
            outcome = exc.outcome
        except asyncio.CancelledError:
            if not self.giving_up:
                raise
            outcome = Outcome.uncertain("服务停止时请求已发出、尚未得到答复，无法确认是否送达")
        except Exception:
            log.exception("sending outbox row %s failed unexpectedly", claim.id)
            outcome = Outcome.permanent("发送时发生内部错误", "请联系系统维护人员查看服务日志。", errcode="internal")
        if outcome.kind is not Kind.OK:
            record_send_failure(claim.channel, failure_errcode(outcome.errcode, outcome.kind))
        self.finished.append(Finished(claim, outcome, parts))

    # ---- settling ---------------------------------------------------------------------------------------

    def _settlement(self, item: Finished, now: datetime, first_try: datetime | None) -> tuple[Settlement, Outcome]:
        """What to record for a finished send; ``first_try``: when the row's first request was made."""
        claim, outcome = item.claim, item.outcome
        if outcome.kind is Kind.OK:
            done = claim.parts_sent + 1 >= item.parts
            state = OutboxState.SENT if done else OutboxState.PENDING
            return Settlement(claim.id, state, "ok", part_sent=True, due_at=None if done else now), outcome
        if outcome.kind is Kind.RETRY and now - (first_try or now) > self.options.give_up_after:
            hours = self.options.give_up_after.total_seconds() / 3600
            outcome = Outcome.permanent(
                f"{hours:g} 小时内多次重试仍未送达（最近一次：{outcome.cause}）",
                "请检查服务器网络和平台状态，恢复后再重发。",
                errcode=outcome.errcode,
                detail=outcome.detail,
            )
        if outcome.kind is Kind.RETRY:
            failures = max(1, claim.attempts - claim.parts_sent)
            due = now + timedelta(seconds=backoff(failures, outcome.wait, self.options))
            settlement = Settlement(
                claim.id,
                OutboxState.PENDING,
                "retry",
                due_at=due,
                errcode=outcome.errcode,
                error=outcome.describe(),
                rate_key=claim.rate_key,
            )
            return settlement, outcome
        if outcome.kind is Kind.UNCERTAIN:
            return Settlement(claim.id, OutboxState.UNCERTAIN, "uncertain", error=outcome.describe()), outcome
        return (
            Settlement(claim.id, OutboxState.FAILED, "failed", errcode=outcome.errcode, error=outcome.describe()),
            outcome,
        )

    async def settle_finished(self) -> None:
        if not self.finished:
            return
        batch, self.finished = self.finished, []
        now = utcnow()
        try:
            async with self.ctx.db.transaction() as session:
                retrying = [item.claim.id for item in batch if item.outcome.kind is Kind.RETRY]
                first = await first_attempts(session, retrying)
                decided = [(item, *self._settlement(item, now, first.get(item.claim.id))) for item in batch]
                settlements = [
                    replace(settlement, outbox_id=outbox_id)
                    for item, settlement, _ in decided
                    for outbox_id in item.claim.ids
                ]
                applied = await record_outcomes(session, settlements, instance=self.ctx.instance_id, now=now)
                uncertain: list[RowRef] = []
                day = now.astimezone(self.ctx.settings.tz).date()
                for item, settlement, outcome in decided:
                    if item.claim.id not in applied:
                        log.warning("outbox row %s was taken from this instance before its outcome", item.claim.id)
                        continue
                    ref = _ref(item.claim)
                    if settlement.state is OutboxState.FAILED and outcome.alert:
                        await alert_failure(session, ref, outcome, day=day, tz=self.ctx.settings.tz)
                    elif outcome.file_refused is not None:
                        await alert_file_refused(session, ref, outcome.file_refused, day=day, tz=self.ctx.settings.tz)
                    elif settlement.state is OutboxState.UNCERTAIN:
                        uncertain.append(ref)
                await alert_uncertain(session, uncertain, tz=self.ctx.settings.tz)
        except BaseException:
            self.finished = batch + self.finished  # keep the outcomes: they are written on the next turn
            raise
        final = (OutboxState.SENT, OutboxState.FAILED, OutboxState.UNCERTAIN)
        self.settled += sum(1 for s in settlements if s.outbox_id in applied and s.state in final)
        for item, settlement, outcome in decided:
            if settlement.state is not OutboxState.SENT and outcome.kind is not Kind.OK:
                log.info("outbox row %s → %s: %s", item.claim.id, settlement.state.value, outcome.describe())

    # ---- orphans ----------------------------------------------------------------------------------------

    async def sweep(self, *, startup: bool = False) -> int:
        """Rows left ``sending`` by a dead sender become uncertain (the office is told); returns how many.

        At start-up on SQLite (one host by nature) a sender known to have died on this host is recognised at
        once; otherwise — and on PostgreSQL, where instances may share a host name across containers — the
        lease decides.
        """
        now = utcnow()
        async with self.ctx.db.transaction() as session:
            dead: set[str] = set()
            if startup and self.ctx.db.dialect == "sqlite":
                dead = {owner for owner in await sending_owners(session) if owner_is_dead(owner)}
            rows = await mark_orphans_uncertain(session, now=now, lease=self.options.lease, dead_owners=dead)
            await alert_uncertain(session, [RowRef.of(row) for row in rows], tz=self.ctx.settings.tz)
            if startup:
                await prune_send_log(session, before=now - self.options.log_retention)
        if rows:
            log.warning("%d outbox row(s) left sending by a dead sender are now uncertain", len(rows))
        self.settled += len(rows)
        return len(rows)

    # ---- recording outcomes in the background ----------------------------------------------------------

    def _kick_settler(self) -> None:
        """Record finished sends in a task of their own, so that claiming new work never waits for it."""
        if self.finished and not self._settling:
            self.settling = asyncio.create_task(self._settle_all(), name="duban:outbox:settle")

    @property
    def _settling(self) -> bool:
        return self.settling is not None and not self.settling.done()

    @property
    def _idle(self) -> bool:
        return not self.in_flight and not self.finished and not self._settling

    async def _settle_all(self) -> None:
        try:
            while self.finished:
                await self.settle_finished()
        except Exception as exc:  # the outcomes stay queued; the caller decides whether to retry or raise
            self.settle_error = exc
        finally:
            self.progress.set()

    def _give_up_in_flight(self) -> None:
        """Shutting down and the platform is slow to answer: cancel the requests in flight; each is recorded as
        uncertain rather than left ``sending`` until its lease runs out (which would hold back its robot's queue)."""
        if self.giving_up or not self.in_flight:
            return
        self.giving_up = True
        log.warning("stopping: %d request(s) still unanswered are given up as uncertain", len(self.in_flight))
        for task in self.in_flight:
            task.cancel()

    def _abandon(self) -> None:
        """Cancel what is still running (the loop was cancelled or failed); such rows end up uncertain."""
        for task in [*self.in_flight, *([self.settling] if self.settling else [])]:
            if not task.done():
                task.cancel()

    # ---- the two ways to run ----------------------------------------------------------------------------

    async def run_until_idle(self) -> int:
        """Send until nothing more is due now (paced and backed-off rows stay queued); returns rows settled."""
        try:
            while True:
                self.progress.clear()
                if self.settle_error is not None:
                    raise self.settle_error
                self._kick_settler()
                if self._worth_claiming():
                    await self.claim_and_launch()
                if self.progress.is_set():
                    continue
                if self._idle:
                    return self.settled
                await self._wait(None, self.options.claim_pause)
        finally:
            self._abandon()

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until ``stopping`` is set, then finish (and record) what is in flight; requests still unanswered
        ``stop_grace`` seconds after the stop are given up and recorded as uncertain."""
        loop = asyncio.get_running_loop()
        await self._guarded(self.sweep(startup=True))
        next_sweep = loop.time() + self.options.sweep_interval
        stop_by: float | None = None
        try:
            while True:
                self.progress.clear()
                self.ctx.outbox_queued.clear()  # what was queued so far, the claim below finds
                if self.settle_error is not None:
                    error, self.settle_error = self.settle_error, None
                    log.error("recording send outcomes failed (%s); retrying shortly", type(error).__name__)
                    await asyncio.sleep(self.options.poll_interval)
                self._kick_settler()
                if stopping.is_set():
                    if self._idle:
                        return
                    stop_by = stop_by or loop.time() + self.options.stop_grace
                    if loop.time() >= stop_by:
                        self._give_up_in_flight()
                else:
                    if self._worth_claiming():
                        await self._guarded(self.claim_and_launch())
                    if loop.time() >= next_sweep:
                        await self._guarded(self.sweep())
                        next_sweep = loop.time() + self.options.sweep_interval
                if self.progress.is_set():
                    continue
                await self._wait(stopping, await self._idle_timeout())
        finally:
            self._abandon()

    async def _guarded(self, step: Awaitable[object]) -> None:
        """Run a database step of the worker; a failure (database away) is logged and retried next turn."""
        try:
            await step
        except Exception:
            log.exception("outbound dispatcher step failed; retrying shortly")
            await asyncio.sleep(self.options.poll_interval)

    async def _idle_timeout(self) -> float:
        if self.in_flight:
            return self.options.claim_pause
        try:
            async with self.ctx.db.sessions() as session:
                due = await next_due(session, channels=self.channels)
        except Exception:
            return self.options.poll_interval
        if due is None:
            return self.options.poll_interval
        return min(self.options.poll_interval, max(0.0, (due - utcnow()).total_seconds()))

    async def _wait(self, stopping: asyncio.Event | None, seconds: float) -> None:
        """Until there is progress, this process queued outbox rows, ``stopping`` is set (unless it already is), or
        ``seconds`` have passed."""
        waiters = [asyncio.ensure_future(self.progress.wait()), asyncio.ensure_future(self.ctx.outbox_queued.wait())]
        if stopping is not None and not stopping.is_set():
            waiters.append(asyncio.ensure_future(stopping.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*waiters, return_exceptions=True)


def _ref(claim: Claim) -> RowRef:
    return RowRef(claim.id, claim.channel, claim.target, claim.group_id, claim.origin, claim.created_at)


async def dispatcher(
    ctx: AppContext,
    stopping: asyncio.Event,
    *,
    options: DispatchOptions | None = None,
    channels: Collection[str] | None = None,
) -> None:
    """The service's outbound worker (``bot.lifecycle.Worker``); ``channels``: only these (default: all)."""
    options = options or options_from(ctx.settings)
    async with http_session(options, ctx.settings.network) as http:
        await Pump(ctx, http, options, channels=channels).run(stopping)


async def drain_once(
    ctx: AppContext, *, channels: set[str] | None = None, options: DispatchOptions | None = None
) -> int:
    """Send every row that is due now, once, and return how many rows were settled (sent, failed, uncertain).

    Used without a running service (``duban say``) and by tests; rows that are paced or backed off stay
    queued for the service.
    """
    options = options or options_from(ctx.settings)
    async with http_session(options, ctx.settings.network) as http:
        pump = Pump(ctx, http, options, channels=channels)
        await pump.sweep()
        return await pump.run_until_idle()
