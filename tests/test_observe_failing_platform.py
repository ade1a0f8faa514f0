"""A failing platform shows on ``/metrics`` and ``/healthz`` within a minute, while the service keeps serving.

The service runs its real dispatcher against the fake platforms: one group's robot key is unknown (93000,
permanent), one robot answers HTTP 502 (retried), one webhook points where nothing listens (network), and
one group is healthy. ``/healthz`` stays 200 — a platform outage must not take every instance out of the
load balancer — but says ``degraded`` and counts the failures by errcode; ``/metrics`` counts them too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.config import GroupConfig, OutboundConfig
from bot.metrics import REGISTRY
from bot.outbound.dispatcher import dispatcher, drain_once
from storage.db import Database
from storage.models import OutboxState
from storage.outbound import OutboundMessage
from tests.fakes import FakePlatforms, Reply, Stall
from tests.outbound_kit import FAST, OFFICE, context, queue, rows, settings_for

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
WITHIN = 60.0  # the promise: a failing platform shows within a minute


async def scrape(client: TestClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def healthz(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/healthz")
    return response.status, await response.json()


async def until_failures_show(client: TestClient, errcodes: set[str]) -> dict[str, Any]:
    """Poll ``/healthz`` until it reports a failure for each of ``errcodes``; fails after a minute."""
    async with asyncio.timeout(WITHIN):
        while True:
            status, body = await healthz(client)
            assert status == 200, body
            if errcodes <= set(body["checks"]["outbox"]["failed_recent_by_errcode"]):
                return body
            await asyncio.sleep(0.1)


# The database and the fakes come before ``aiohttp_client`` in each signature, so that they are torn down
# after the application and its dispatcher.


async def test_a_failing_platform_shows_on_metrics_and_healthz(
    db: Database, fake_platforms: FakePlatforms, aiohttp_client: Any
) -> None:
    healthy = fake_platforms.wecom.add_robot("k-ok")
    flaky = fake_platforms.wecom.add_robot("k-502")
    fake_platforms.wecom.script("k-502", *[Reply(status=502)] * 10)
    groups = [
        GroupConfig(name="甲群", platform="wecom", webhook=f"{fake_platforms.url}/cgi-bin/webhook/send?key=gone"),
        GroupConfig(name="乙群", platform="wecom", webhook=flaky),
        GroupConfig(name="丙群", platform="wecom", webhook="http://127.0.0.1:9/cgi-bin/webhook/send?key=x"),
        GroupConfig(name="丁群", platform="wecom", webhook=healthy),
        OFFICE,
    ]
    settings = settings_for(fake_platforms, groups)
    client: TestClient = await aiohttp_client(create_app(settings, db=db, workers=[("dispatcher", dispatcher)]))
    status, body = await healthz(client)
    assert (status, body["status"], body["checks"]["outbox"]["failed_recent"]) == (200, "ok", 0)
    before = {
        code: counter("duban_send_failures_total", channel="wecom_webhook", errcode=code)
        for code in ("93000", "http502", "network")
    }
    sends_before = counter("duban_send_duration_seconds_count", channel="wecom_webhook")

    for name in ("甲群", "乙群", "丙群", "丁群"):
        await queue(db, name, OutboundMessage(title="通知", body="请各成员单位按时报送。"))
    body = await until_failures_show(client, {"93000", "http502", "network"})

    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    outbox = body["checks"]["outbox"]
    assert outbox["ok"] is True  # nothing waits beyond the lag limit: the dispatcher is keeping up
    assert outbox["failed_recent"] == sum(outbox["failed_recent_by_errcode"].values()) >= 3
    assert outbox["failure_window_seconds"] == 600

    samples = await scrape(client)
    for code in ("93000", "http502", "network"):
        after = samples[("duban_send_failures_total", (("channel", "wecom_webhook"), ("errcode", code)))]
        assert after - before[code] >= 1, code
        assert samples[("duban_send_failures_recent", (("errcode", code),))] >= 1
    # Every request was timed, the healthy group's and the refused ones alike (the unreachable one made none).
    assert samples[("duban_send_duration_seconds_count", (("channel", "wecom_webhook"),))] - sends_before >= 3
    assert len(fake_platforms.wecom.delivered("k-ok")) == 1

    by_target = {row.target: row for row in await rows(db) if row.origin != "alert"}
    assert by_target["甲群"].state is OutboxState.FAILED and by_target["甲群"].errcode == "93000"
    assert by_target["乙群"].state is OutboxState.PENDING and by_target["乙群"].errcode == "http502"
    assert by_target["丙群"].state is OutboxState.PENDING and by_target["丙群"].errcode is None
    assert by_target["丁群"].state is OutboxState.SENT


async def test_an_unanswered_request_counts_as_a_timeout(
    db: Database, fake_platforms: FakePlatforms, aiohttp_client: Any
) -> None:
    webhook = fake_platforms.wecom.add_robot("k-stall")
    fake_platforms.wecom.script("k-stall", Stall(deliver=True))
    group = GroupConfig(name="甲群", platform="wecom", webhook=webhook)
    settings = settings_for(fake_platforms, [group, OFFICE], outbound=OutboundConfig(read_timeout_seconds=1.0))
    before = counter("duban_send_failures_total", channel="wecom_webhook", errcode="timeout")
    client: TestClient = await aiohttp_client(create_app(settings, db=db, workers=[("dispatcher", dispatcher)]))
    await queue(db, "甲群", OutboundMessage(body="请查收。"))
    body = await until_failures_show(client, {"timeout"})
    assert body["status"] == "degraded"
    assert counter("duban_send_failures_total", channel="wecom_webhook", errcode="timeout") - before == 1
    [row] = [row for row in await rows(db) if row.origin != "alert"]
    assert row.state is OutboxState.UNCERTAIN


async def test_rows_held_for_a_rate_limit_slot_are_counted(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    group = GroupConfig(name="甲群", platform="wecom", webhook=webhook, rate_per_minute=3)
    ctx = await context(db, settings_for(fake_platforms, [group]))
    waits = counter("duban_rate_limit_waits_total", channel="wecom_webhook")
    refusals = counter("duban_send_failures_total", channel="wecom_webhook", errcode="45009")
    with time_machine.travel("2026-11-20 02:00:00+00:00", tick=False):
        await queue(db, "甲群", *(OutboundMessage(body=f"第{i}条") for i in range(5)))
        assert await drain_once(ctx, options=FAST) == 3
    assert len(fake_platforms.wecom.delivered("k1")) == 3
    # The fourth row was held back once (the fifth waits behind it and is not a head of its key).
    assert counter("duban_rate_limit_waits_total", channel="wecom_webhook") - waits == 1
    assert counter("duban_send_failures_total", channel="wecom_webhook", errcode="45009") - refusals == 0
