"""Rendering the neutral message per platform: golden payloads, mentions that notify, nothing injectable."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.outbound.render import DINGTALK_LIMIT, RESPONSE_URL_LIMIT, SHORTENED_NOTE, render
from storage.outbound import Mention, OutboundMessage, quote

GOLDEN = Path(__file__).parent / "golden" / "outbound"
CHANNELS = (
    "wecom_webhook",
    "dingtalk_robot",
    "feishu_bot",
    "wecom_response_url",
    "dingtalk_session",
    "wecom_app",
    "sandbox",
)
KEYWORDS = ("督办",)

ZHANG = Mention(name="张三", person_id=1, wecom_userid="zhangsan", dingtalk_userid="ding-zhang", mobile="13800000001")
LI = Mention(name="李四", person_id=2, mobile="13800000002")
WANG = Mention(name="王五", person_id=3)

CASES = {
    "briefing": OutboundMessage(
        title="第46周工作简报",
        body=(
            "**一、上周工作**\n- 召开联席会议 1 次\n- 收到成员单位报送 **12** 份\n\n"
            "**二、本周安排**\n- 11月25日前完成月报收集"
        ),
        mentions=[ZHANG],
    ),
    "reminder_mixed": OutboundMessage(
        title="报送提醒",
        body="以下单位尚未报送2026年10月工作进展，请于11月25日前报送：\n- 省商务厅\n- 省发展改革委",
        mentions=[ZHANG, LI, WANG, ZHANG],
    ),
    "late_at_all": OutboundMessage(body="本月通报已发布，请各成员单位查阅。", at_all=True, late_post=True),
    "injection": OutboundMessage(
        title="收到报送 <@all>",
        body=(
            "已收到【省商务厅】报送，摘录如下：\n"
            + quote('<@all> 请点 [这里](http://evil.example) @13800000009 <font color="warning">急</font>')
            + "\n模板直写：<@all> [链接](https://x.example) @所有人 # 标题 `code` ***"
        ),
    ),
    "text_format": OutboundMessage(title="回执", body="**已收到**。\n谢谢。", format="text", mentions=[LI]),
}


def rendered(message: OutboundMessage) -> dict[str, object]:
    return {channel: render(message, channel, keywords=KEYWORDS) for channel in CHANNELS}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    actual = rendered(CASES[case])
    path = GOLDEN / f"{case}.json"
    text = json.dumps(actual, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if os.environ.get("DUBAN_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)


def test_wecom_uses_markdown_with_userid_mentions_when_everyone_has_an_id() -> None:
    [payload] = render(CASES["briefing"], "wecom_webhook")
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"]["content"].endswith("<@zhangsan>")


def test_wecom_switches_to_text_when_a_mention_needs_a_mobile() -> None:
    [payload] = render(CASES["reminder_mixed"], "wecom_webhook")
    assert payload["msgtype"] == "text"
    assert payload["text"]["mentioned_list"] == ["zhangsan"]
    assert payload["text"]["mentioned_mobile_list"] == ["13800000002"]
    assert payload["text"]["content"].endswith("@王五")  # no id, no mobile: the plain name
    assert payload["text"]["content"].count("@") == 1  # the duplicate 张三 was mentioned once, by id


def test_wecom_at_all_only_when_asked() -> None:
    [asked] = render(CASES["late_at_all"], "wecom_webhook")
    assert asked["text"]["mentioned_list"] == ["@all"]
    for channel in CHANNELS:
        for payload in render(CASES["briefing"], channel):
            assert "@all" not in json.dumps(payload)
            assert '"isAtAll": true' not in json.dumps(payload)


def test_dingtalk_mentions_by_id_then_mobile_with_tokens_in_text() -> None:
    [payload] = render(CASES["reminder_mixed"], "dingtalk_robot")
    assert payload["at"] == {"atUserIds": ["ding-zhang"], "atMobiles": ["13800000002"], "isAtAll": False}
    text = payload["markdown"]["text"]
    assert "@ding-zhang" in text
    assert "@13800000002" in text
    assert "@王五" in text


def test_late_post_is_marked_on_every_platform() -> None:
    for channel in CHANNELS:
        [payload] = render(CASES["late_at_all"], channel)
        assert "补发" in json.dumps(payload, ensure_ascii=False), channel


@pytest.mark.parametrize("channel", ["dingtalk_robot", "feishu_bot"])
def test_a_configured_keyword_always_appears(channel: str) -> None:
    message = OutboundMessage(body="今天没有别的事。" * 1000)  # long enough to split everywhere
    payloads = render(message, channel, keywords=("月报", "督办"))
    assert len(payloads) > 1
    for payload in payloads:
        flat = json.dumps(payload, ensure_ascii=False)
        assert "月报" in flat or "督办" in flat
        if channel == "dingtalk_robot":
            assert "月报" in payload["markdown"]["title"]
            assert "月报" in payload["markdown"]["text"]


def test_a_keyword_already_present_is_not_added_again() -> None:
    [payload] = render(OutboundMessage(title="督办通知", body="内容"), "dingtalk_robot", keywords=("督办",))
    assert payload["markdown"]["title"] == "督办通知"
    assert "【督办】" not in payload["markdown"]["text"]


def test_body_text_cannot_create_mentions_links_or_markup() -> None:
    message = CASES["injection"]
    for channel in CHANNELS:
        if channel == "sandbox":
            continue
        for payload in render(message, channel, keywords=KEYWORDS):
            flat = json.dumps(payload, ensure_ascii=False)
            for forbidden in ("<@all>", "](", "http://", "https://", "<font", "@13800000009", "@所有人", "`"):
                assert forbidden not in flat, (channel, forbidden)
            assert "isAtAll" not in flat
            assert "mentioned_list" not in flat


def test_response_url_reply_is_shortened_visibly_to_one_part() -> None:
    body = "\n".join(f"第{i}行：" + "进展情况良好。" * 20 for i in range(200))
    payloads = render(OutboundMessage(title="统计", body=body), "wecom_response_url")
    assert len(payloads) == 1
    content = payloads[0]["markdown"]["content"]
    assert len(content.encode()) <= RESPONSE_URL_LIMIT
    assert content.endswith(SHORTENED_NOTE)
    assert "第0行" in content


def test_dingtalk_parts_respect_the_conservative_limit() -> None:
    payloads = render(OutboundMessage(body="汉" * 5000, mentions=[ZHANG]), "dingtalk_robot")
    assert all(len(p["markdown"]["text"].encode()) <= DINGTALK_LIMIT for p in payloads)
    assert payloads[-1]["at"]["atUserIds"] == ["ding-zhang"]
    assert all("at" not in p for p in payloads[:-1])
