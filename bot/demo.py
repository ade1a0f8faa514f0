"""The demo: sandbox groups and an invented roster, so that a new user sees something real at once."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.errors import CliError
from bot.roster import read_roster
from storage.db import Database
from storage.roster import has_roster, import_roster
from storage.sync import sync_groups

DEMO_ROSTER = Path(__file__).resolve().parent / "demo" / "roster.csv"
DEMO_GROUP_NAMES = ("强省会工作机制群", "工作机制办公室")

DEMO_GROUPS_TOML = """
# ---- 演示用沙箱群（duban init --demo 生成）----
[[groups]]
name = "强省会工作机制群"
platform = "sandbox"

[[groups]]
name = "工作机制办公室"
platform = "sandbox"
office = true
"""


async def load_demo_roster(settings: Settings, *, only_if_empty: bool) -> bool:
    """Import the demo roster; ``False`` when a roster is already there and ``only_if_empty`` is set.

    The demo's people sit in the sandbox groups of ``DEMO_GROUPS_TOML``, which the configuration must hold.
    """
    known = {group.name: group.platform for group in settings.groups}
    missing = [name for name in DEMO_GROUP_NAMES if name not in known]
    if missing:
        raise CliError(
            f"演示名册需要配置文件中的沙箱群「{'」「'.join(missing)}」，当前配置中没有。"
            f"请在配置文件末尾加入以下内容后重试：\n{DEMO_GROUPS_TOML}",
            code=2,
        )
    parsed = read_roster(DEMO_ROSTER, known)
    db = Database(settings.database.url, echo=settings.database.echo)
    try:
        await sync_groups(db, settings.groups)
        if only_if_empty:
            async with db.sessions() as session:
                if await has_roster(session):
                    return False
        await import_roster(db, parsed.entries, actor="duban init --demo", source="演示名册")
        return True
    finally:
        await db.close()
