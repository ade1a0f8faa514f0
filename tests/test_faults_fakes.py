"""The fakes' random fault mode: seeded (a run can be repeated), never touching spared targets, and each kind
doing to the client what the platform would."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fakes import FakePlatforms, RandomFaults, Reply, Reset, Slow, Stall


def draws(faults: RandomFaults, targets: list[str]) -> list[object]:
    return [faults.draw(target, 45009, (93000, "invalid webhook url")) for target in targets]


def test_the_same_seed_fails_the_same_requests_the_same_way() -> None:
    targets = [f"k{n % 7}" for n in range(200)]
    first, second = draws(RandomFaults(0.4, seed=3), targets), draws(RandomFaults(0.4, seed=3), targets)
    assert first == second
    assert first != draws(RandomFaults(0.4, seed=4), targets)
    kinds = {type(action) for action in first if action is not None}
    assert kinds == {Reply, Stall, Reset, Slow}
    assert 40 <= sum(action is not None for action in first) <= 120  # about 40 %


def test_spared_targets_and_a_zero_rate_never_fail() -> None:
    assert draws(RandomFaults(1.0, spare=frozenset({"office"})), ["office"] * 50) == [None] * 50
    assert draws(RandomFaults(0.0), ["k"] * 50) == [None] * 50
    with pytest.raises(ValueError):
        RandomFaults(0.5, kinds=("meteor",))


async def test_a_reset_and_a_bounded_stall_reach_the_client(fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    fake_platforms.wecom.script("k1", Reset(deliver=True), Stall(deliver=False, seconds=0.1))
    payload = {"msgtype": "markdown", "markdown": {"content": "一"}}
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientOSError):
            async with http.post(webhook, json=payload) as response:
                await response.read()
        async with http.post(webhook, json=payload) as response:
            assert response.status == 503  # after the stall, no errcode: the request was never taken
        async with http.post(webhook, json=payload) as response:
            assert (await response.json())["errcode"] == 0
    assert [e.delivered for e in fake_platforms.wecom.log] == [True, False, True]


async def test_random_faults_are_counted_in_the_stats(fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    fake_platforms.set_faults(RandomFaults(1.0, seed=1, kinds=("http5xx", "busy")))
    payload = {"msgtype": "markdown", "markdown": {"content": "一"}}
    async with aiohttp.ClientSession() as http:
        for _ in range(10):
            async with http.post(webhook, json=payload) as response:
                await response.read()
    summary = fake_platforms.summary()
    assert sum(summary["faults"].values()) == 10 and set(summary["faults"]) <= {"http5xx", "busy"}
    assert fake_platforms.wecom.delivered() == []
