"""Shared by the long-connection tests: a ``duban serve`` process on its own SQLite file (or a PostgreSQL
database) whose only inbound path is a long connection to the fake gateways, and a liaison to speak as."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from storage.db import Database
from storage.models import Round
from tests.faults_kit import HOST, Instance, duban, free_port

JOBS = ("weekly-briefing", "monthly-circular", "deadline-reminder", "overdue-notice", "item-reminder")
LIAISON = "lina-staff"  # 李娜, 省商务厅 A角, on DingTalk
FEISHU_LIAISON = "lina01"  # 李娜 by her Feishu user_id
GROUP_CHAT = "cidGroupStream01=="


def report_text() -> str:
    """A monthly report for last month, true in any month."""
    today = datetime.now(ZoneInfo("Asia/Shanghai"))
    month = 12 if today.month == 1 else today.month - 1
    return f"{month}月工作进展：一是完成外贸项目3个；二是新增出口企业12家。"


async def open_round(db: Database) -> int:
    """A collection open for ten more days (as ``征集 … 确认`` would leave it); its number."""
    async with db.transaction() as session:
        round_ = Round(
            title="工作专班联系人",
            fields=["姓名", "职务", "手机"],
            deadline=datetime.now(UTC) + timedelta(days=10),
            code="QT01",
        )
        session.add(round_)
        await session.flush()
        return round_.id


ROUND_ANSWER = "张三 处长 13912345678"  # unmarked, unlabelled: only the quote says which round it answers


def stream_config(db_url: str, port: int, fake_url: str, sections: str, *, proxy: str = "") -> str:
    jobs = "".join(f"[schedules.{job}]\nenabled = false\n\n" for job in JOBS)
    network = f'[network]\nproxy = "{proxy}"\n' if proxy else ""
    return f"""office_name = "强省会工作机制办公室"

[database]
url = "{db_url}"

[server]
host = "{HOST}"
port = {port}

[wecom]
api_base = "{fake_url}"

{"" if "[feishu]" in sections else f'[feishu]{chr(10)}api_base = "{fake_url}"{chr(10)}'}
[sandbox]
enabled = false

{network}
{sections}

{jobs}
[[groups]]
name = "成员单位群"
platform = "dingtalk"
webhook = "{fake_url}/robot/send?access_token=member-robot"

[[groups]]
name = "办公室群"
platform = "dingtalk"
webhook = "{fake_url}/robot/send?access_token=office-robot"
office = true
"""


def dingtalk_stream_section(fake_url: str, app_key: str, app_secret: str) -> str:
    return f"""[dingtalk]
api_base = "{fake_url}"
openapi_base = "{fake_url}"
transport = "stream"
app_key = "{app_key}"
app_secret = "{app_secret}"
"""


def write_roster(path: Path) -> Path:
    lines = [
        "单位,责任处室,姓名,角色,手机,企业微信账号,钉钉账号,飞书账号,所在群",
        f"省商务厅,对外贸易处,李娜,A角,13900000101,lina,{LIAISON},{FEISHU_LIAISON},成员单位群",
        "工作机制办公室,,段红梅,办公室,13900009901,duanhm,duanhm-staff,duanhm01,办公室群",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


async def prepared_instances(
    workdir: Path, db_url: str, count: int, config_of: Sequence[str] | str, fake_url: str
) -> list[Instance]:
    """``count`` instances (not started) on ``db_url``, migrated, with the roster imported."""
    instances = []
    for n in range(count):
        folder = workdir / f"duban{n + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        sections = config_of if isinstance(config_of, str) else config_of[n]
        config = folder / "duban.toml"
        config.write_text(stream_config(db_url, port, fake_url, sections), encoding="utf-8")
        instances.append(Instance(f"duban{n + 1}", config, port, folder / "serve.log"))
    first = instances[0].config
    upgraded = await duban(first, "db", "upgrade")
    assert upgraded.code == 0, upgraded.err
    imported = await duban(first, "roster", "import", str(write_roster(workdir / "roster.csv")))
    assert imported.code == 0, imported.err
    return instances


def dingtalk_group_message(msg_id: str, text: str, session_webhook: str, expires_ms: int) -> dict[str, object]:
    """What DingTalk pushes on the robot topic for a group @-message (PLATFORMS.md §3.7)."""
    now_ms = int(datetime.now().timestamp() * 1000)
    return {
        "msgId": msg_id,
        "msgtype": "text",
        "text": {"content": f" {text}"},
        "createAt": now_ms,
        "conversationType": "2",
        "conversationId": GROUP_CHAT,
        "conversationTitle": "强省会工作机制成员单位群",
        "senderId": "$:LWCP_v1:$sender",
        "senderStaffId": LIAISON,
        "senderNick": "李娜",
        "senderCorpId": "dingcorp",
        "chatbotCorpId": "dingcorp",
        "chatbotUserId": "$:LWCP_v1:$bot",
        "robotCode": "dingstreamkey",
        "isAdmin": False,
        "isInAtList": True,
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$bot"}],
        "sessionWebhook": session_webhook,
        "sessionWebhookExpiredTime": expires_ms,
    }


def as_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def wecom_bot_socket_section(ws_url: str, bot_id: str, secret: str) -> str:
    return f"""[wecom.bot]
transport = "websocket"
bot_id = "{bot_id}"
secret = "{secret}"
ws_url = "{ws_url}"
"""


async def health_of(instance: Instance) -> dict[str, object]:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{instance.url}/healthz") as response:
        return dict(await response.json())


def feishu_socket_section(api_base: str, app_id: str, app_secret: str) -> str:
    return f"""[feishu]
api_base = "{api_base}"
transport = "websocket"
app_id = "{app_id}"
app_secret = "{app_secret}"
"""
