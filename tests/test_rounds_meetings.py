"""``会议``: a meeting notice in two steps, its 回执 collected as a round closing the working day before."""

from __future__ import annotations

import re
from datetime import timedelta

from handlers_kit import MEMBER_GROUP, group_posts, local, say, seed
from sqlalchemy import select

from storage.db import Database
from storage.models import Round

AT = local(2026, 12, 3, 10)


async def test_a_meeting_notice_collects_receipts(db: Database) -> None:
    roster = await seed(db)
    (empty,) = await say(db, roster.office, "会议", AT)
    assert empty.startswith("近期没有会议通知。")
    (preview,) = await say(
        db, roster.office, "会议 周会商 12月9日 15:00 地点 市政府1号楼第三会议室 参会 各成员单位分管负责同志", AT
    )
    assert preview.startswith("**会议通知预览**\n**会议通知：周会商**\n时间：12月9日（周三）15:00\n")
    assert "地点：市政府1号楼第三会议室\n参会：各成员单位分管负责同志" in preview
    assert "请各成员单位联络员于12月8日（周二）18:00前回复回执“#编号 参会人员：姓名、职务”" in preview
    code = re.search(r"确认 ([A-Z0-9]{4})", preview)
    assert code is not None
    (confirmed,) = await say(db, roster.office_deputy, f"确认 {code[1]}", AT + timedelta(minutes=1))
    async with db.sessions() as session:
        (round_,) = await session.scalars(select(Round))
    assert confirmed == f"已确认，会议通知#{round_.id}已排队发送至1个群：{MEMBER_GROUP}。"
    assert round_.kind == "meeting" and round_.deadline == local(2026, 12, 8, 18)
    (post,) = await group_posts(db)
    assert post.message["title"] == "会议通知：周会商"
    (receipt,) = await say(db, roster.liaison, f"#{round_.id} 参会人员：张三 副厅长", AT + timedelta(hours=1))
    assert receipt.startswith(f"已收到省商务厅对会议#{round_.id}“周会商”的答复。")
    assert "参会人员：张三 副厅长" in receipt
    (listing,) = await say(db, roster.office, "会议", AT + timedelta(hours=2))
    assert listing == (f"**近期会议及回执情况**\n- #{round_.id} 周会商（12月9日（周三）15:00）：已回执1家，未回执3家")
    (late,) = await say(db, roster.office, "会议 紧急调度 12月3日 10:30", AT)
    assert late.startswith("会议时间12月3日（周四）10:30过近或已过")
