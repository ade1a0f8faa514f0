"""``GET /metrics``: the Prometheus text format, counters moved by the helpers, depths read from the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.app import create_app
from bot.appkeys import CONTEXT
from bot.config import Settings
from bot.context import AppContext
from storage.db import Database
from storage.models import InboxMessage, InboxState, OutboxMessage, OutboxState, utcnow

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def settings_for(url: str) -> Settings:
    return Settings.model_validate({"database": {"url": url}})


async def scrape(client: TestClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def idle(_ctx: AppContext, stopping: asyncio.Event) -> None:
    await stopping.wait()


@pytest.fixture
async def client(aiohttp_client, db: Database) -> AsyncIterator[TestClient]:
    yield await aiohttp_client(create_app(settings_for(db.url), db=db, workers=[("probe", idle)]))


async def test_metrics_render_in_the_text_format(client: TestClient) -> None:
    samples = await scrape(client)
    assert samples[("duban_database_up", ())] == 1
    assert samples[("duban_worker_up", (("worker", "probe"),))] == 1
    assert any(name == "duban_build_info" for name, _ in samples)
    assert samples[("duban_outbox_lag_seconds", ())] == 0
    assert samples[("duban_inbox_oldest_pending_seconds", ())] == 0
    for state in OutboxState:
        assert samples[("duban_outbox_depth", (("state", state.value),))] == 0
    for inbox_state in InboxState:
        assert samples[("duban_inbox_depth", (("state", inbox_state.value),))] == 0


async def test_helpers_move_the_counters(client: TestClient) -> None:
    before = await scrape(client)

    def delta(after: Samples, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    metrics.record_callback("wecom_bot", "stored")
    metrics.record_callback("wecom_bot", "stored")
    metrics.record_callback("dingtalk_bot", "refused")
    metrics.observe_send("wecom", 0.3)
    metrics.observe_send("wecom", 4.0)
    metrics.record_send_failure("wecom", 45009)
    metrics.record_send_failure("dingtalk", "timeout")
    metrics.record_rate_limit_wait("wecom")
    metrics.record_job_run("weekly-briefing", "ok")
    metrics.record_claim_lost("weekly-briefing")
    after = await scrape(client)

    assert delta(after, "duban_callbacks_total", channel="wecom_bot", result="stored") == 2
    assert delta(after, "duban_callbacks_total", channel="dingtalk_bot", result="refused") == 1
    assert delta(after, "duban_send_duration_seconds_count", channel="wecom") == 2
    assert delta(after, "duban_send_duration_seconds_sum", channel="wecom") == pytest.approx(4.3)
    assert delta(after, "duban_send_duration_seconds_bucket", channel="wecom", le="0.5") == 1
    assert delta(after, "duban_send_duration_seconds_bucket", channel="wecom", le="5.0") == 2
    assert delta(after, "duban_send_failures_total", channel="wecom", errcode="45009") == 1
    assert delta(after, "duban_send_failures_total", channel="dingtalk", errcode="timeout") == 1
    assert delta(after, "duban_rate_limit_waits_total", channel="wecom") == 1
    assert delta(after, "duban_job_runs_total", job="weekly-briefing", result="ok") == 1
    assert delta(after, "duban_job_claims_lost_total", job="weekly-briefing") == 1


def _inbox(n: int, state: InboxState, *, age: timedelta) -> InboxMessage:
    return InboxMessage(
        platform="sandbox",
        channel="sandbox",
        message_id=f"m-{state.value}-{n}",
        sender_id="u1",
        state=state,
        received_at=utcnow() - age,
    )


def _outbox(state: OutboxState, *, due_in: timedelta) -> OutboxMessage:
    return OutboxMessage(channel="sandbox", target="群", rate_key="sandbox:群", state=state, due_at=utcnow() + due_in)


async def test_depths_and_ages_reflect_the_database(client: TestClient, db: Database) -> None:
    async with db.transaction() as session:
        session.add_all(
            [
                _inbox(1, InboxState.PENDING, age=timedelta(seconds=90)),
                _inbox(2, InboxState.PENDING, age=timedelta(seconds=5)),
                _inbox(3, InboxState.FAILED, age=timedelta(hours=3)),
                _inbox(4, InboxState.DONE, age=timedelta(hours=5)),
                _outbox(OutboxState.PENDING, due_in=timedelta(seconds=-120)),
                _outbox(OutboxState.PENDING, due_in=timedelta(seconds=-10)),
                _outbox(OutboxState.PENDING, due_in=timedelta(hours=1)),  # backing off: not lag
                _outbox(OutboxState.UNCERTAIN, due_in=timedelta(hours=-2)),
                _outbox(OutboxState.SENT, due_in=timedelta(hours=-3)),
            ]
        )
    samples = await scrape(client)

    def depth(table: str, state: str) -> float:
        return samples[(f"duban_{table}_depth", (("state", state),))]

    assert depth("inbox", "pending") == 2
    assert depth("inbox", "failed") == 1
    assert depth("inbox", "done") == 1
    assert depth("inbox", "processing") == 0
    assert depth("outbox", "pending") == 3
    assert depth("outbox", "uncertain") == 1
    assert depth("outbox", "sent") == 1
    assert depth("outbox", "failed") == 0
    assert 120 <= samples[("duban_outbox_lag_seconds", ())] < 3600
    assert 90 <= samples[("duban_inbox_oldest_pending_seconds", ())] < 3600


async def test_counters_still_render_when_the_database_is_unreachable(client: TestClient) -> None:
    ctx = client.app[CONTEXT]
    reachable = ctx.db
    ctx.db = Database("postgresql+asyncpg://duban@127.0.0.1:1/duban")  # nothing listens on port 1
    try:
        metrics.record_callback("sandbox", "stored")
        samples = await scrape(client)
    finally:
        await ctx.db.close()
        ctx.db = reachable
    assert samples[("duban_database_up", ())] == 0
    assert samples[("duban_callbacks_total", (("channel", "sandbox"), ("result", "stored")))] >= 1
    assert not any(name == "duban_outbox_depth" for name, _ in samples)
    assert samples[("duban_worker_up", (("worker", "probe"),))] == 1


def test_two_applications_share_the_one_registry(sqlite_url: str) -> None:
    """Building the app twice must not register the metrics twice (the global registry would refuse)."""
    create_app(settings_for(sqlite_url))
    create_app(settings_for(sqlite_url))
    metrics.record_rate_limit_wait("sandbox")
    assert metrics.REGISTRY.get_sample_value("duban_rate_limit_waits_total", {"channel": "sandbox"}) >= 1
