"""Adding a new kind of job touches one module: a module dropped into ``schedules/kinds`` (in a copy of the source
tree, nothing else edited) is listed by ``duban jobs list``, planned by the scheduler, configured by its own TOML
section (unknown keys refused) and run by ``duban jobs run``."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import ConfigError, load_settings
from storage.db import Database
from storage.models import OutboxMessage

PACKAGES = ("bot", "handlers", "schedules", "storage")
SOURCE = Path(__file__).resolve().parent.parent

SITE_VISIT = '''"""现场督查提醒: a test job, written the way README's developer section says."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession

from schedules.compose import Composition, to_groups
from schedules.content import target_groups
from schedules.context import ScheduleEnv
from schedules.job import Job, JobSettings
from schedules.occurrences import Occurrence, Planner
from storage.outbound import OutboundMessage


class SiteVisitSettings(JobSettings):
    at: time = time(8, 30)
    place: str = "市政务服务中心"


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    return planner.every_workday(JOB.name, planner.settings.job(JOB), start, end)


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    config = env.settings.job(JOB)
    message = OutboundMessage(title="现场督查提醒", body=f"今日现场督查地点：{config.place}。", late_post=late)
    groups = await target_groups(session, config.groups, office=True)
    return to_groups(groups, message, f"督查地点{config.place}")


JOB = Job(name="site-visit", title="现场督查提醒", order=95, settings=SiteVisitSettings, plan=plan, compose=compose)
'''

GROUPS = (
    '[[groups]]\nname = "强省会工作机制群"\nplatform = "sandbox"\n'
    '[[groups]]\nname = "办公室"\nplatform = "sandbox"\noffice = true\n'
)
SECTION = '[schedules.site-visit]\nat = "08:45"\nplace = "高新区项目现场"\n'


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the source tree with one new module in ``schedules/kinds`` and no other change."""
    root = tmp_path / "src"
    for package in PACKAGES:
        shutil.copytree(SOURCE / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "schedules" / "kinds" / "site_visit.py").write_text(SITE_VISIT, encoding="utf-8")
    return root


def config(tmp_path: Path, sqlite_url: str, section: str) -> Path:
    path = tmp_path / "duban.toml"
    path.write_text(f'[database]\nurl = "{sqlite_url}"\n{GROUPS}{section}', encoding="utf-8")
    return path


def in_tree(tree: Path, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run Python in the copied tree (its packages come first on the path), as ``duban`` would run there."""
    env = {**os.environ, "PYTHONPATH": str(tree), "DUBAN_CONFIG": "", **environment}
    return subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_without_the_module_its_section_is_refused(tmp_path: Path, sqlite_url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(config(tmp_path, sqlite_url, SECTION))
    assert any("site-visit" in problem for problem in caught.value.problems)


def test_a_dropped_in_module_is_listed_planned_configured_and_run(tree: Path, tmp_path: Path, sqlite_url: str) -> None:
    path = config(tmp_path, sqlite_url, SECTION)

    listed = in_tree(tree, "-m", "bot", "--config", str(path), "jobs", "list", "--from", "2026-12-07", "--days", "2")
    assert listed.returncode == 0, listed.stderr
    assert "12月7日（周一）08:45  现场督查提醒（site-visit）" in listed.stdout
    assert "12月8日（周二）08:45  现场督查提醒（site-visit）" in listed.stdout

    script = (
        "import sys\n"
        "from datetime import datetime\n"
        "from zoneinfo import ZoneInfo\n"
        "from bot.config import load_settings\n"
        "from bot.policy import policy_from_settings\n"
        "from bot.scheduler import JobScheduler, job_context\n"
        "from storage.db import Database\n"
        "settings = load_settings(sys.argv[1])\n"
        "ctx = job_context(policy_from_settings(settings), Database(settings.database.url), 'test')\n"
        "now = datetime(2026, 12, 7, 8, 0, tzinfo=ZoneInfo('Asia/Shanghai'))\n"
        "print(settings.schedules.jobs()['site-visit'])\n"
        "for occurrence in JobScheduler(ctx).plan(now):\n"
        "    print(occurrence.job, occurrence.at.isoformat())\n"
    )
    planned = in_tree(tree, "-c", script, str(path), DUBAN_SCHEDULES__SITE_VISIT__AT="09:05")
    assert planned.returncode == 0, planned.stderr
    lines = planned.stdout.splitlines()
    assert "place='高新区项目现场'" in lines[0]  # the file's key, and the environment's override beside it
    assert "site-visit 2026-12-07T09:05:00+08:00" in lines

    ran = in_tree(tree, "-m", "bot", "--config", str(path), "jobs", "run", "site-visit", "--at", "2026-12-07T08:45")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("已执行现场督查提醒（2026年12月7日（周一）08:45）：写入待发队列，发送至办公室。")

    async def posted() -> list[OutboxMessage]:
        db = Database(sqlite_url)
        async with db.sessions() as session:
            rows = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.origin == "site-visit")))
        await db.close()
        return rows

    (row,) = asyncio.run(posted())
    assert row.message["body"] == "今日现场督查地点：高新区项目现场。"

    shown = in_tree(tree, "-m", "bot", "--config", str(path), "jobs", "list", "--json", "--from", "2026-12-07")
    assert {"site-visit"} <= {entry["job"] for entry in json.loads(shown.stdout)}


def test_the_new_section_refuses_unknown_keys(tree: Path, tmp_path: Path, sqlite_url: str) -> None:
    path = config(tmp_path, sqlite_url, '[schedules.site-visit]\nplaces = "错拼"\n')
    refused = in_tree(tree, "-m", "bot", "--config", str(path), "jobs", "list")
    assert refused.returncode != 0
    assert "schedules.site-visit.places" in refused.stderr
