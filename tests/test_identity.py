"""Who sent a message: each platform's sender id finds the roster person by that platform's column only."""

from __future__ import annotations

from handlers.identity import identify
from storage.db import Database
from storage.models import Person, Role, Unit


async def _seed(db: Database) -> None:
    async with db.sessions() as session, session.begin():
        unit = Unit(name="省商务厅")
        session.add_all(
            [
                Person(
                    name="李娜",
                    role=Role.A,
                    unit=unit,
                    wecom_userid="lina",
                    dingtalk_userid="lina-staff",
                    feishu_userid="lina01",
                ),
                Person(name="王强", role=Role.B, unit=unit, feishu_userid="wangq01", active=False),
            ]
        )


async def test_a_feishu_sender_is_found_by_the_feishu_account_only(db: Database) -> None:
    await _seed(db)
    async with db.sessions() as session:
        found = await identify(session, "feishu", "lina01")
        assert found is not None and found.name == "李娜" and found.unit is not None and found.unit.name == "省商务厅"
        assert await identify(session, "feishu", "lina") is None  # her WeCom id is not her Feishu id
        assert await identify(session, "wecom", "lina01") is None
        assert await identify(session, "feishu", "wangq01") is None  # no longer on the roster
        assert await identify(session, "feishu", "ou_unknown") is None
        assert await identify(session, "feishu", "") is None
        wecom, dingtalk = await identify(session, "wecom", "lina"), await identify(session, "dingtalk", "lina-staff")
        assert wecom is found and dingtalk is found
