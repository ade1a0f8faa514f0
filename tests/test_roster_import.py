"""Applying a roster to the database: in place, idempotent, deactivating instead of deleting (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import GroupConfig
from bot.roster import read_roster, write_roster
from storage.db import Database
from storage.models import AuditEntry, Group, GroupMember, Person, Role, Unit
from storage.roster import (
    ImportSummary,
    RosterEntry,
    RosterGroupMissing,
    has_roster,
    import_roster,
    roster_rows,
)
from storage.sync import sync_groups

BIG = "强省会工作机制群"
OFFICE = "工作机制办公室"
GROUPS = [GroupConfig(name=BIG, platform="sandbox"), GroupConfig(name=OFFICE, platform="sandbox", office=True)]


def entry(
    row: int,
    unit: str,
    name: str,
    role: Role,
    *,
    division: str = "综合处",
    mobile: str | None = None,
    wecom_userid: str | None = None,
    dingtalk_userid: str | None = None,
    feishu_userid: str | None = None,
    groups: tuple[str, ...] = (BIG,),
) -> RosterEntry:
    return RosterEntry(
        row,
        unit,
        division,
        name,
        role,
        mobile,
        wecom_userid,
        dingtalk_userid,
        feishu_userid=feishu_userid,
        groups=groups,
    )


ROSTER = [
    entry(2, "省商务厅", "周雪梅", Role.A, mobile="13900000501", wecom_userid="zhouxm"),
    entry(3, "省商务厅", "吴国庆", Role.B, mobile="13900000502", dingtalk_userid="ding_wgq"),
    entry(4, "省财政厅", "朱晓东", Role.A, division="经济建设处", mobile="13900000801", feishu_userid="zhuxd01"),
    entry(5, "省财政厅", "胡春燕", Role.B, division="经济建设处"),
    entry(6, OFFICE, "段红梅", Role.OFFICE, division="", mobile="13900009901", groups=(BIG, OFFICE)),
]


async def run(db: Database, entries: list[RosterEntry], *, dry_run: bool = False) -> ImportSummary:
    await sync_groups(db, GROUPS)
    return await import_roster(db, entries, actor="测试", source="test.csv", dry_run=dry_run)


async def people(db: Database) -> dict[str, Person]:
    async with db.sessions() as session:
        return {person.name: person for person in (await session.scalars(select(Person))).all()}


async def units(db: Database) -> dict[str, Unit]:
    async with db.sessions() as session:
        return {unit.name: unit for unit in (await session.scalars(select(Unit))).all()}


async def memberships(db: Database) -> set[tuple[str, str]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(Person.name, Group.name).join(GroupMember, GroupMember.person_id == Person.id).join(Group)
        )
        return {(person, group) for person, group in rows}


async def counts(db: Database) -> tuple[int, int, int]:
    async with db.sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(Person)) or 0,
            await session.scalar(select(func.count()).select_from(Unit)) or 0,
            await session.scalar(select(func.count()).select_from(GroupMember)) or 0,
        )


async def test_first_import_creates_units_people_and_memberships(db: Database) -> None:
    summary = await run(db, ROSTER)
    assert summary.people.added == [
        "省商务厅 周雪梅（A角）",
        "省商务厅 吴国庆（B角）",
        "省财政厅 朱晓东（A角）",
        "省财政厅 胡春燕（B角）",
        "段红梅（办公室）",
    ]
    assert summary.units.added == ["省商务厅", "省财政厅"]
    assert summary.changes == 7

    found_units = await units(db)
    assert {name: (unit.division, unit.active) for name, unit in found_units.items()} == {
        "省商务厅": ("综合处", True),
        "省财政厅": ("经济建设处", True),
    }
    found = await people(db)
    assert found["周雪梅"].unit_id == found_units["省商务厅"].id
    assert (found["周雪梅"].wecom_userid, found["吴国庆"].dingtalk_userid) == ("zhouxm", "ding_wgq")
    assert found["段红梅"].unit_id is None and found["段红梅"].role is Role.OFFICE
    assert found["胡春燕"].mobile is None
    assert await memberships(db) == {
        ("周雪梅", BIG),
        ("吴国庆", BIG),
        ("朱晓东", BIG),
        ("胡春燕", BIG),
        ("段红梅", BIG),
        ("段红梅", OFFICE),
    }
    async with db.sessions() as session:
        assert await has_roster(session)
        audit = (await session.scalars(select(AuditEntry))).one()
    assert (audit.action, audit.actor) == ("roster.import", "测试")
    assert audit.detail.startswith("test.csv：人员：新增5")


async def test_importing_the_same_roster_twice_changes_nothing(db: Database) -> None:
    await run(db, ROSTER)
    before = await people(db)
    stamps = {name: person.updated_at for name, person in before.items()}
    again = await run(db, ROSTER)
    assert again.changes == 0
    assert (again.people.unchanged, again.units.unchanged) == (5, 2)
    assert await counts(db) == (5, 2, 6)
    after = await people(db)
    assert {name: person.id for name, person in after.items()} == {name: person.id for name, person in before.items()}
    assert {name: person.updated_at for name, person in after.items()} == stamps


async def test_update_in_place_by_stable_key(db: Database) -> None:
    await run(db, ROSTER)
    ids = {name: person.id for name, person in (await people(db)).items()}
    changed = list(ROSTER)
    # Same WeCom account, new name and mobile: the same person, renamed.
    changed[0] = dataclasses.replace(ROSTER[0], name="周雪玫", mobile="13900000511")
    # No accounts at all: matched by unit + name + role; the division of the unit changes too.
    changed[3] = dataclasses.replace(ROSTER[3], mobile="13900000802", division="预算处", groups=())
    changed[2] = dataclasses.replace(ROSTER[2], division="预算处")
    summary = await run(db, changed)
    assert summary.people.updated == ["省商务厅 周雪玫（A角）：姓名、手机", "省财政厅 胡春燕（B角）：手机、所在群"]
    assert summary.units.updated == ["省财政厅：责任处室「经济建设处」→「预算处」"]
    assert summary.people.unchanged == 3
    found = await people(db)
    assert found["周雪玫"].id == ids["周雪梅"] and found["周雪玫"].mobile == "13900000511"
    assert found["胡春燕"].id == ids["胡春燕"]
    assert ("胡春燕", BIG) not in await memberships(db)
    assert await counts(db) == (5, 2, 5)


async def test_missing_people_and_units_are_deactivated_then_reactivated(db: Database) -> None:
    await run(db, ROSTER)
    ids = {name: person.id for name, person in (await people(db)).items()}
    without_finance = [e for e in ROSTER if e.unit != "省财政厅"]
    summary = await run(db, without_finance)
    assert summary.people.deactivated == ["省财政厅 朱晓东（A角）", "省财政厅 胡春燕（B角）"]
    assert summary.units.deactivated == ["省财政厅"]
    assert await counts(db) == (5, 2, 4)  # nothing deleted but the group seats
    found = await people(db)
    assert not found["朱晓东"].active and not found["胡春燕"].active
    assert not (await units(db))["省财政厅"].active
    async with db.sessions() as session:
        shown = await roster_rows(session, office_name=OFFICE)
        everyone = await roster_rows(session, office_name=OFFICE, include_inactive=True)
    assert [row.name for row in shown] == ["周雪梅", "吴国庆", "段红梅"]
    assert [(row.name, row.active) for row in everyone][-3:] == [("朱晓东", False), ("胡春燕", False), ("段红梅", True)]

    back = await run(db, ROSTER)
    assert back.people.reactivated == ["省财政厅 朱晓东（A角）", "省财政厅 胡春燕（B角）"]
    assert back.units.reactivated == ["省财政厅"]
    assert back.people.unchanged == 3
    found = await people(db)
    assert {name: person.id for name, person in found.items()} == ids
    assert all(person.active for person in found.values())
    assert await counts(db) == (5, 2, 6)
    assert (await run(db, ROSTER)).changes == 0


async def test_accounts_can_change_hands_without_tripping_unique_constraints(db: Database) -> None:
    await run(db, ROSTER)
    ids = {name: person.id for name, person in (await people(db)).items()}
    swapped = list(ROSTER)
    # The A角 and B角 of a unit swap roles and mobiles; the WeCom and DingTalk accounts keep the people apart.
    swapped[0] = dataclasses.replace(ROSTER[0], role=Role.B, mobile="13900000502")
    swapped[1] = dataclasses.replace(ROSTER[1], role=Role.A, mobile="13900000501")
    summary = await run(db, swapped)
    assert sorted(summary.people.updated) == [
        "省商务厅 吴国庆（A角）：角色、手机",
        "省商务厅 周雪梅（B角）：角色、手机",
    ]
    found = await people(db)
    assert found["周雪梅"].id == ids["周雪梅"] and found["周雪梅"].mobile == "13900000502"
    assert found["吴国庆"].id == ids["吴国庆"] and found["吴国庆"].role is Role.A
    assert await counts(db) == (5, 2, 6)


async def test_a_liaison_and_deputy_without_accounts_who_swap_roles_keep_their_records(db: Database) -> None:
    await run(db, ROSTER)
    ids = {name: person.id for name, person in (await people(db)).items()}
    swapped = list(ROSTER)
    swapped[2] = dataclasses.replace(ROSTER[2], role=Role.B, mobile=None)
    swapped[3] = dataclasses.replace(ROSTER[3], role=Role.A)
    summary = await run(db, swapped)
    assert summary.people.added == [] and summary.people.deactivated == []
    assert {name: person.id for name, person in (await people(db)).items()} == ids


async def test_the_stable_key_falls_back_to_the_mobile_and_ignores_wecom_case(db: Database) -> None:
    await run(db, ROSTER)
    # 周雪梅 leaves; 郑新 arrives with her old mobile but his own WeCom account.
    newcomer = entry(2, "省商务厅", "郑新", Role.A, mobile="13900000501", wecom_userid="zhengxin")
    summary = await run(db, [newcomer, *ROSTER[1:]])
    # The mobile is a stable key, so the record is the same one, renamed, with the new account.
    assert summary.people.updated == ["省商务厅 郑新（A角）：姓名、企业微信账号"]
    handover = entry(2, "省商务厅", "王二", Role.A, mobile="13900000599", wecom_userid="ZHENGXIN")
    summary = await run(db, [handover, *ROSTER[1:]])
    # WeCom accounts ignore case: still the same person.
    assert summary.people.updated == ["省商务厅 王二（A角）：姓名、手机、企业微信账号"]
    assert await counts(db) == (5, 2, 6)


async def test_account_taken_from_a_person_leaving_the_roster(db: Database) -> None:
    await run(db, ROSTER)
    # 吴国庆 (B角) leaves; 冯一 joins with 吴国庆's DingTalk account but a new WeCom account that matches nobody.
    # The WeCom key finds no one, the DingTalk key finds 吴国庆: the record is reused.
    joiner = entry(3, "省商务厅", "冯一", Role.B, wecom_userid="fengyi", dingtalk_userid="ding_wgq")
    summary = await run(db, [ROSTER[0], joiner, *ROSTER[2:]])
    assert summary.people.updated == ["省商务厅 冯一（B角）：姓名、手机、企业微信账号"]
    # Now 冯一 is replaced by 褚二 who claims 周雪梅's WeCom account while 周雪梅 keeps her mobile:
    # the account moves, 周雪梅 is matched by mobile and loses it.
    takeover = entry(3, "省商务厅", "褚二", Role.B, wecom_userid="zhouxm")
    keeper = dataclasses.replace(ROSTER[0], wecom_userid=None)
    summary = await run(db, [keeper, takeover, *ROSTER[2:]])
    found = await people(db)
    assert found["褚二"].wecom_userid == "zhouxm"
    assert found["周雪梅"].wecom_userid is None and found["周雪梅"].active
    assert not found["冯一"].active and found["冯一"].dingtalk_userid == "ding_wgq"


async def test_dry_run_writes_nothing(db: Database) -> None:
    summary = await run(db, ROSTER, dry_run=True)
    assert len(summary.people.added) == 5
    assert await counts(db) == (0, 0, 0)
    async with db.sessions() as session:
        assert not await has_roster(session)
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_unknown_group_is_refused_and_nothing_written(db: Database) -> None:
    await sync_groups(db, GROUPS[:1])
    with pytest.raises(RosterGroupMissing, match=OFFICE):
        await import_roster(db, ROSTER, actor="测试")
    assert await counts(db) == (0, 0, 0)


async def test_roster_rows_order_and_office_name(db: Database) -> None:
    await run(db, ROSTER)
    async with db.sessions() as session:
        rows = await roster_rows(session, office_name="强省会工作机制办公室")
    assert [(row.unit, row.division, row.name, row.role, row.groups) for row in rows] == [
        ("省商务厅", "综合处", "周雪梅", Role.A, (BIG,)),
        ("省商务厅", "综合处", "吴国庆", Role.B, (BIG,)),
        ("省财政厅", "经济建设处", "朱晓东", Role.A, (BIG,)),
        ("省财政厅", "经济建设处", "胡春燕", Role.B, (BIG,)),
        ("强省会工作机制办公室", "", "段红梅", Role.OFFICE, (BIG, OFFICE)),
    ]


async def test_groups_dropped_from_the_config_are_not_exported(db: Database) -> None:
    await run(db, ROSTER)
    await sync_groups(db, GROUPS[:1])
    async with db.sessions() as session:
        rows = await roster_rows(session, office_name=OFFICE)
    assert rows[-1].groups == (BIG,)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
async def test_export_then_import_is_a_round_trip(db: Database, tmp_path: Path, suffix: str) -> None:
    await run(db, ROSTER)
    async with db.sessions() as session:
        rows = await roster_rows(session, office_name=OFFICE)
    path = tmp_path / f"roster{suffix}"
    write_roster(path, rows)
    parsed = read_roster(path, {group.name: group.platform for group in GROUPS})
    assert (await run(db, parsed.entries)).changes == 0
    async with db.sessions() as session:
        assert await roster_rows(session, office_name=OFFICE) == rows


async def test_two_imports_at_once_are_serialised(db: Database) -> None:
    await sync_groups(db, GROUPS)
    first, second = await asyncio.gather(import_roster(db, ROSTER, actor="甲"), import_roster(db, ROSTER, actor="乙"))
    assert sorted([first.changes, second.changes]) == [0, 7]
    assert await counts(db) == (5, 2, 6)


async def test_feishu_accounts_are_imported_idempotently_and_change_hands(db: Database) -> None:
    await run(db, ROSTER)
    assert (await people(db))["朱晓东"].feishu_userid == "zhuxd01"
    assert (await run(db, ROSTER)).changes == 0
    moved = [
        entry(2, "省商务厅", "周雪梅", Role.A, mobile="13900000501", wecom_userid="zhouxm", feishu_userid="zhuxd01"),
        *ROSTER[1:2],
        entry(4, "省财政厅", "朱晓东", Role.A, division="经济建设处", mobile="13900000801", feishu_userid="zhuxd02"),
        *ROSTER[3:],
    ]
    summary = await run(db, moved)
    assert summary.people.updated == ["省商务厅 周雪梅（A角）：飞书账号", "省财政厅 朱晓东（A角）：飞书账号"]
    found = await people(db)
    assert (found["周雪梅"].feishu_userid, found["朱晓东"].feishu_userid) == ("zhuxd01", "zhuxd02")
