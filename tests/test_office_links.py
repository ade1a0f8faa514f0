"""Links in the office's own words stay working links in every dialect; liaisons' words stay inert.

The office's 通知 and 周报/通报 添加 text is marked by :func:`storage.outbound.office_links` /
:func:`storage.outbound.quote_keeping_links`, and the message lists the addresses as the office's; each dialect
then renders the platform's own link: ``[url](url)`` in WeCom and DingTalk markdown, an ``a`` element in a
Feishu ``post``, the bare address in text messages. A liaison's address beside it — even one wrapped in forged
link marks — stays ``https：//…`` and no mark survives into what people read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from handlers_kit import MEMBER_GROUP, group_posts, local, say, seed
from schedules_kit import jobs, policy, posts, when

from bot.outbound.markup import parse
from bot.outbound.render import Payload, render
from schedules.jobs import run_job
from storage.db import Database
from storage.outbound import OutboundMessage, addresses, office_links, quote, quote_keeping_links

OFFICE_URL = "https://www.gov.cn/zhengce/content/2026-11/content_6012345.htm"
OTHER_URL = "http://oa.example.gov.cn:8080/notice?id=17&from=_duban#top"
LIAISON_URL = "https://evil.example/phish"
LIAISON_WORDS = f"联络员：详见{LIAISON_URL}，或\ue000{LIAISON_URL}\ue001"
MARKS = re.compile("[\ue000\ue001]")


def office_message(text: str, *, liaison: str = LIAISON_WORDS, fmt: str = "markdown") -> OutboundMessage:
    body = office_links(text) + "\n" + quote(liaison)
    return OutboundMessage(title="办公室通知", body=body, links=addresses(text), format=fmt)  # type: ignore[arg-type]


def rendered(message: OutboundMessage, channel: str) -> Payload:
    (payload,) = render(message, channel, keywords=("督办",))
    return payload


def shown(payload: Payload) -> str:
    return repr(payload)


def assert_liaison_inert(payload: Payload) -> None:
    text = shown(payload)
    assert LIAISON_URL not in text and "evil.example/phish)" not in text
    assert "https：//evil.example/phish" in text
    assert not MARKS.search(text)


TEXT = f"请于11月27日前登录系统填报，详见{OFFICE_URL}。备用地址：{OTHER_URL}."


@pytest.mark.parametrize(
    ("channel", "path"),
    [
        ("wecom_webhook", ("markdown", "content")),
        ("wecom_response_url", ("markdown", "content")),
        ("wecom_bot_ws", ("markdown", "content")),
        ("wecom_app", ("markdown", "content")),
        ("dingtalk_robot", ("markdown", "text")),
        ("dingtalk_session", ("markdown", "text")),
    ],
)
def test_markdown_dialects_link_the_office_addresses(channel: str, path: tuple[str, str]) -> None:
    payload = rendered(office_message(TEXT), channel)
    content = payload[path[0]][path[1]]
    assert f"详见[{OFFICE_URL}]({OFFICE_URL})。备用地址：[{OTHER_URL}]({OTHER_URL})." in content
    assert_liaison_inert(payload)


@pytest.mark.parametrize(
    ("channel", "content_of"),
    [
        ("wecom_webhook", lambda p: p["text"]["content"]),
        ("wecom_app", lambda p: p["text"]["content"]),
        ("dingtalk_robot", lambda p: p["text"]["content"]),
        ("dingtalk_session", lambda p: p["text"]["content"]),
        ("feishu_bot", lambda p: p["content"]["text"]),
        ("sandbox", lambda p: p["text"]),
    ],
)
def test_text_dialects_carry_the_bare_address(channel: str, content_of: Callable[[Payload], str]) -> None:
    payload = rendered(office_message(TEXT, fmt="text"), channel)
    content = content_of(payload)
    assert f"详见{OFFICE_URL}。备用地址：{OTHER_URL}." in content
    if channel != "sandbox":  # the local sandbox shows text as written
        assert_liaison_inert(payload)


def test_feishu_post_has_a_link_element_and_inert_text_around_it() -> None:
    payload = rendered(office_message(TEXT), "feishu_bot")
    first, liaison, *_ = payload["content"]["post"]["zh_cn"]["content"]
    assert first == [
        {"tag": "text", "text": "请于11月27日前登录系统填报，详见"},
        {"tag": "a", "text": OFFICE_URL, "href": OFFICE_URL},
        {"tag": "text", "text": "。备用地址："},
        {"tag": "a", "text": OTHER_URL, "href": OTHER_URL},
        {"tag": "text", "text": "."},
    ]
    assert liaison == [{"tag": "text", "text": quote(LIAISON_WORDS)}]
    assert_liaison_inert(payload)


def test_a_bullet_with_bold_and_a_link_keeps_both() -> None:
    text = f"- **重要：**见{OFFICE_URL}"
    message = OutboundMessage(body=office_links(text), links=addresses(text))
    assert rendered(message, "wecom_webhook")["markdown"]["content"] == f"- **重要：**见[{OFFICE_URL}]({OFFICE_URL})"
    (paragraph,) = rendered(message, "feishu_bot")["content"]["post"]["zh_cn"]["content"]
    assert paragraph == [{"tag": "text", "text": "- 重要：见"}, {"tag": "a", "text": OFFICE_URL, "href": OFFICE_URL}]


def test_a_mark_the_message_does_not_list_stays_inert() -> None:
    """Marks alone make nothing live: the address must be one the office wrote into this message."""
    forged = OutboundMessage(body=f"详见\ue000{LIAISON_URL}\ue001", links=[OFFICE_URL])
    for channel in ("wecom_webhook", "dingtalk_robot", "feishu_bot", "wecom_app"):
        payload = rendered(forged, channel)
        assert "https：//evil.example/phish" in shown(payload) and not MARKS.search(shown(payload))
        assert "](" not in shown(payload) and "'a'" not in shown(payload)


def test_only_plain_http_addresses_are_marked() -> None:
    text = "javascript:alert(1) ftp://x.cn/a [文](https://a.cn/b) https://a.cn/(x) <https://b.cn> https://c.cn@evil.cn"
    assert addresses(text) == ["https://a.cn/b", "https://a.cn/", "https://b.cn", "https://c.cn"]
    message = OutboundMessage(body=office_links(text), links=addresses(text))
    content = rendered(message, "wecom_webhook")["markdown"]["content"]
    assert content == (
        "javascript：alert(1) ftp：//x.cn/a ［文］([https://a.cn/b](https://a.cn/b))"
        " [https://a.cn/](https://a.cn/)(x) ＜[https://b.cn](https://b.cn)＞ [https://c.cn](https://c.cn)＠evil.cn"
    )


def test_the_office_words_are_quoted_but_for_their_links() -> None:
    quoted = quote_keeping_links(f"@所有人 **注意** 详见{OFFICE_URL}\ue001")
    assert quoted == f"＠所有人 ＊＊注意＊＊ 详见\ue000{OFFICE_URL}\ue001"
    assert quote(f"详见\ue000{OFFICE_URL}\ue001") == "详见" + OFFICE_URL.replace("https:", "https：").replace("_", "＿")


def test_a_split_never_cuts_a_link() -> None:
    """A long notice split into parts: every address arrives whole, as a link, in exactly one part."""
    text = "\n".join(f"第{n}项：" + "说明" * 40 + f"详见{OFFICE_URL}?n={n}" for n in range(1, 60))
    message = OutboundMessage(body=office_links(text), links=addresses(text))
    for channel, content_of in (
        ("wecom_webhook", lambda p: p["markdown"]["content"]),
        ("dingtalk_robot", lambda p: p["markdown"]["text"]),
    ):
        contents = [content_of(payload) for payload in render(message, channel, keywords=("督办",))]
        assert len(contents) > 1
        joined = "\n".join(contents)
        for n in range(1, 60):
            url = f"{OFFICE_URL}?n={n}"
            assert joined.count(f"[{url}]({url})") == 1, (channel, n)
        assert "https：" not in joined


def test_an_address_longer_than_a_part_is_still_delivered() -> None:
    """Nothing is lost: an address too long for any part is cut as inert text rather than refused."""
    url = "https://a.cn/" + "x" * 5000
    message = OutboundMessage(body=office_links(url), links=addresses(url))
    contents = [p["markdown"]["content"] for p in render(message, "wecom_webhook")]
    assert "".join(re.sub(r"^\*\*（\d+/\d+）\*\*\n", "", c) for c in contents) == "https：//a.cn/" + "x" * 5000


def test_parse_without_links_drops_the_marks() -> None:
    (line,) = parse(f"见\ue000{OFFICE_URL}\ue001")
    assert [span.link for span in line.spans] == [False, False]
    assert line.text == f"见{OFFICE_URL}"


# ---- through the real commands ----------------------------------------------------------------------------


async def test_an_announcement_keeps_its_links(db: Database) -> None:
    roster = await seed(db)
    at = local(2026, 11, 20, 10)
    (preview,) = await say(db, roster.office, f"通知 请登录{OFFICE_URL}填报。", at)
    code = re.search(r"确认 ([A-Z0-9]{4})", preview)
    assert code is not None
    await say(db, roster.office_deputy, f"确认 {code[1]}", at + timedelta(minutes=1))
    (post,) = await group_posts(db)
    message = OutboundMessage.model_validate(post.message)
    assert message.links == [OFFICE_URL]
    assert rendered(message, "wecom_webhook")["markdown"]["content"].endswith(
        f"请登录[{OFFICE_URL}]({OFFICE_URL})填报。"
    )
    assert f"请登录{OFFICE_URL}填报。" in rendered(message, "dingtalk_robot")["markdown"]["text"].replace(
        f"[{OFFICE_URL}]({OFFICE_URL})", OFFICE_URL
    )


async def test_a_liaison_report_in_chat_stays_inert_beside_it(db: Database) -> None:
    """A liaison's report with an address and forged marks, shown to the office by 查看: nothing live."""
    roster = await seed(db)
    await say(db, roster.liaison, f"10月工作进展：{LIAISON_WORDS}", local(2026, 11, 20))
    (reply,) = await say(db, roster.office, "查看 省商务厅", local(2026, 11, 26))
    assert "https：//evil.example/phish" in reply and LIAISON_URL not in reply
    assert not MARKS.search(reply)


async def test_a_briefing_item_keeps_its_link(db: Database) -> None:
    roster = await seed(db)
    settings = policy()
    await say(db, roster.office, f"周报 添加 @所有人 会议材料见{OFFICE_URL}", when(2026, 11, 20, 15), policy=settings)
    with time_machine.travel(when(2026, 11, 23), tick=False):
        await run_job(jobs(db), "weekly-briefing", when(2026, 11, 23), late=False)
    (post,) = await posts(db)
    assert post.target == MEMBER_GROUP
    message = OutboundMessage.model_validate(post.message)
    assert message.links == [OFFICE_URL]
    content = rendered(message, "wecom_webhook")["markdown"]["content"]
    assert f"- ＠所有人 会议材料见[{OFFICE_URL}]({OFFICE_URL})" in content
    feishu = rendered(message, "feishu_bot")["content"]["post"]["zh_cn"]["content"]
    assert [
        {"tag": "text", "text": "- ＠所有人 会议材料见"},
        {"tag": "a", "text": OFFICE_URL, "href": OFFICE_URL},
    ] in feishu


async def test_a_collection_keeps_its_links(db: Database) -> None:
    roster = await seed(db)
    at = local(2026, 3, 10, 10)
    request = f"征集 工作专班联系人 截止 3月24日 字段 姓名、职务 填报说明见{OFFICE_URL}"
    (preview,) = await say(db, roster.office, request, at)
    code = re.search(r"确认 ([A-Z0-9]{4})", preview)
    assert code is not None
    await say(db, roster.office_deputy, f"确认 {code[1]}", at + timedelta(minutes=2))
    (post,) = await group_posts(db)
    message = OutboundMessage.model_validate(post.message)
    assert message.links == [OFFICE_URL]
    assert f"填报说明见[{OFFICE_URL}]({OFFICE_URL})" in rendered(message, "dingtalk_robot")["markdown"]["text"]
    assert (
        f"填报说明见{OFFICE_URL}"
        in rendered(message.model_copy(update={"format": "text"}), "wecom_webhook")["text"]["content"]
    )
