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
from tests.fakes.wecom_bot_ws import BOT_ID, BOT_SECRET, group_message
from tests.faults_kit import eventually
from tests.outbound_kit import FAST, OFFICE, context, queue, row, settings_for
from tests.proxy_kit import tinyproxy
from tests.tls_kit import private_ca
from tests.transports_kit import (
    dingtalk_group_message,
    dingtalk_stream_section,
    prepared_instances,
    wecom_bot_socket_section,
)


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


def test_every_http_client_in_bot_comes_from_the_one_factory() -> None:
    """A new ``aiohttp.ClientSession`` elsewhere would bypass the proxy: only ``bot.net`` builds them (the
    CLI's ``duban say`` talks to the service on loopback and builds its own)."""
    root = Path(__file__).resolve().parent.parent / "bot"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "ClientSession(" in path.read_text(encoding="utf-8") and path.name != "net.py"
        and path.relative_to(root).as_posix() != "cli/say.py"
    ]  # fmt: skip
    assert offenders == []


async def test_long_connections_and_replies_go_through_the_proxy_over_tls(tmp_path: Path) -> None:
    """Both long connections (wss through CONNECT tunnels), the open-connection call and the replies, to a
    platform whose certificate comes from a private CA named in ``[network] ca_file``."""
    ca = private_ca(tmp_path / "ca")
    fakes = FakePlatforms()
    await fakes.start(tls=ca.server_context())
    port = int(fakes.url.rsplit(":", 1)[1])
    url = f"sqlite+aiosqlite:///{tmp_path / 'duban.db'}"
    db = Database(url)
    try:
        async with tinyproxy(tmp_path / "proxy") as proxy:
            sections = (
                dingtalk_stream_section(fakes.url, fakes.dingtalk_stream.app_key, fakes.dingtalk_stream.app_secret)
                + wecom_bot_socket_section(fakes.wecom_bot_socket.url, BOT_ID, BOT_SECRET)
                + f'\n[network]\nproxy = "{proxy.url}"\nca_file = "{ca.ca_file}"\n'
            )
            [instance] = await prepared_instances(tmp_path, url, 1, sections, fakes.url)
            await instance.start()
            try:
                await instance.ready()
                session_url, expires = fakes.dingtalk.new_session()
                await fakes.dingtalk_stream.push(dingtalk_group_message("msgTls01", "帮助", session_url, expires))
                await fakes.wecom_bot_socket.wait_for(lambda: fakes.wecom_bot_socket.subscriptions == 1)
                await fakes.wecom_bot_socket.push(group_message("wsTls01", "lina", "帮助"))

                async def answered() -> tuple[int, int]:
                    return len(fakes.dingtalk.delivered()), len(fakes.wecom_bot_socket.sent)

                await eventually(answered, lambda n: n == (1, 1), within=60, what="both answered")
                tunnels = [line for line in proxy.requests() if line.startswith(f"CONNECT 127.0.0.1:{port} ")]
            finally:
                await instance.terminate()
        assert "Traceback" not in instance.log(), instance.log_tail()
        # The Stream client's open-connection call and its websocket (which may reuse that call's tunnel), the
        # WeCom websocket and the dispatcher's sessionWebhook reply: three tunnels at least, all to the platform.
        assert len(tunnels) >= 3, proxy.requests()
        assert all(line.startswith("CONNECT ") for line in proxy.requests())
        assert fakes.dingtalk_stream.problems == [] and fakes.wecom_bot_socket.problems == []
    finally:
        await db.close()
        await fakes.close()
