"""Every request to a platform goes through the configured proxy (a real tinyproxy), or the environment's."""

from __future__ import annotations

from pathlib import Path

from yarl import URL

from bot.config import GroupConfig, NetworkConfig
from bot.net import ProxyRoutes, bypassed
from bot.outbound.dispatcher import drain_once
from storage.db import Database
from storage.models import OutboxState
from storage.outbound import OutboundMessage
from tests.fakes import FakePlatforms
from tests.outbound_kit import FAST, OFFICE, context, queue, row, settings_for
from tests.proxy_kit import tinyproxy


def test_the_configured_proxy_wins_and_no_proxy_hosts_go_direct() -> None:
    routes = ProxyRoutes("http://10.0.0.1:3128", environ={"NO_PROXY": ".gov.cn,10.8.0.9:8080"})
    assert routes.proxy_for(URL("https://api.dingtalk.com/v1.0/x")) == URL("http://10.0.0.1:3128")
    assert routes.proxy_for(URL("wss://openws.work.weixin.qq.com")) == URL("http://10.0.0.1:3128")
    assert routes.proxy_for(URL("https://zwwx.zj.gov.cn/cgi-bin/x")) is None
    assert routes.proxy_for(URL("http://10.8.0.9:8080/")) is None


def test_the_environment_proxy_serves_websockets_by_its_https_entry() -> None:
    routes = ProxyRoutes(environ={"HTTPS_PROXY": "http://p:3128", "http_proxy": "http://q:3128"})
    assert routes.proxy_for(URL("wss://wss-open-connection.dingtalk.com/connect")) == URL("http://p:3128")
    assert routes.proxy_for(URL("https://open.feishu.cn/")) == URL("http://p:3128")
    assert routes.proxy_for(URL("ws://127.0.0.1:9/")) == URL("http://q:3128")
    assert ProxyRoutes(environ={}).proxy_for(URL("https://qyapi.weixin.qq.com/")) is None


def test_no_proxy_entries() -> None:
    assert bypassed("a.example.com", "example.com")
    assert bypassed("example.com", ".example.com")
    assert not bypassed("badexample.com", "example.com")
    assert bypassed("anything", "*")
    assert bypassed("::1", "[::1]:8080")
    assert not bypassed("api.dingtalk.com", "")


async def test_group_posts_go_through_the_configured_proxy(
    db: Database, fake_platforms: FakePlatforms, tmp_path: Path
) -> None:
    wecom = fake_platforms.wecom.add_robot("k-proxy")
    dingtalk = fake_platforms.dingtalk.add_robot("t-proxy")
    groups = [
        GroupConfig(name="甲群", platform="wecom", webhook=wecom),
        GroupConfig(name="乙群", platform="dingtalk", webhook=dingtalk),
        OFFICE,
    ]
    async with tinyproxy(tmp_path / "proxy") as proxy:
        settings = settings_for(fake_platforms, groups, network=NetworkConfig(proxy=proxy.url))
        ctx = await context(db, settings)
        ids = [
            *await queue(db, "甲群", OutboundMessage(body="请报送")),
            *await queue(db, "乙群", OutboundMessage(body="请报送")),
        ]
        assert await drain_once(ctx, options=FAST) == 2
        forwarded = proxy.requests()
    assert [(await row(db, outbox_id)).state for outbox_id in ids] == [OutboxState.SENT, OutboxState.SENT]
    assert len(fake_platforms.wecom.delivered("k-proxy")) == len(fake_platforms.dingtalk.delivered("t-proxy")) == 1
    assert any(line.startswith(f"POST {fake_platforms.url}/cgi-bin/webhook/send?key=k-proxy") for line in forwarded)
    assert any(line.startswith(f"POST {fake_platforms.url}/robot/send?access_token=t-proxy") for line in forwarded)
