"""Splitting long messages: byte limits with numbering and mentions, line boundaries, order, every mention."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.outbound.markup import Line, Span, parse
from bot.outbound.render import (
    DINGTALK_LIMIT,
    FEISHU_BODY_LIMIT,
    FEISHU_SIGN_RESERVE,
    WECOM_APP_LIMIT,
    WECOM_MARKDOWN_LIMIT,
    WECOM_TEXT_LIMIT,
    render,
    wire_json,
)
from bot.outbound.split import Chunk, split
from storage.outbound import Mention, OutboundMessage

PARAGRAPH = "关于推进强省会工作机制各项任务落实情况的报告，{n}号，各成员单位按照职责分工认真抓好落实。"
MENTIONS = [
    Mention(name=f"联络员{i}", person_id=i, wecom_userid=f"user{i}", dingtalk_userid=f"ding{i}")
    if i % 3
    else Mention(name=f"联络员{i}", person_id=i, mobile=f"1380000{i:04d}")
    for i in range(1, 31)
]


def long_text(chars: int = 10_000) -> str:
    lines: list[str] = []
    n = 0
    while sum(len(line) + 1 for line in lines) < chars:
        n += 1
        lines.append(PARAGRAPH.format(n=n))
    lines.append("超长段落：" + "不分行的连续文字" * 400)  # one line longer than any part
    return "\n".join(lines)


def limited_text(channel: str, payload: dict[str, Any]) -> tuple[str, int]:
    """The text a platform measures, and its limit."""
    if channel == "wecom_webhook":
        kind = payload["msgtype"]
        return payload[kind]["content"], WECOM_MARKDOWN_LIMIT if kind == "markdown" else WECOM_TEXT_LIMIT
    if channel == "wecom_app":
        return payload[payload["msgtype"]]["content"], WECOM_APP_LIMIT
    if channel in ("dingtalk_robot", "dingtalk_session"):
        return payload["markdown"]["text"], DINGTALK_LIMIT
    return wire_json(payload).decode(), FEISHU_BODY_LIMIT - FEISHU_SIGN_RESERVE


def mentioned(channel: str, payload: dict[str, Any]) -> set[str]:
    if channel == "wecom_webhook":
        text = payload.get("text", {})
        content = payload.get("markdown", {}).get("content", "") + text.get("content", "")
        return (
            set(text.get("mentioned_list", []))
            | set(text.get("mentioned_mobile_list", []))
            | set(re.findall(r"<@(\w+)>", content))
        )
    if channel in ("dingtalk_robot", "dingtalk_session"):
        at = payload.get("at", {})
        return set(at.get("atUserIds", [])) | set(at.get("atMobiles", []))
    return set(re.findall(r"@(联络员\d+)", json.dumps(payload, ensure_ascii=False)))


def expected_ids(channel: str) -> set[str]:
    if channel == "wecom_webhook":
        return {m.wecom_userid or m.mobile or "" for m in MENTIONS}
    if channel in ("dingtalk_robot", "dingtalk_session"):
        return {m.dingtalk_userid or m.mobile or "" for m in MENTIONS}
    return {m.name for m in MENTIONS}


@pytest.mark.parametrize("channel", ["wecom_webhook", "dingtalk_robot", "feishu_bot", "wecom_app"])
def test_ten_thousand_chinese_characters_with_mentions(channel: str) -> None:
    body = long_text()
    message = OutboundMessage(title="月度通报", body=body, mentions=MENTIONS)
    payloads = render(message, channel, keywords=("督办",) if channel != "wecom_app" else ())
    total = len(payloads)
    assert total > 2
    for index, payload in enumerate(payloads, start=1):
        text, limit = limited_text(channel, payload)
        assert len(text.encode("utf-8")) <= limit
        assert text.encode("utf-8").decode("utf-8") == text
        assert f"（{index}/{total}）" in json.dumps(payload, ensure_ascii=False)
    if channel != "wecom_app":  # 1:1 app messages mention nobody
        assert set().union(*(mentioned(channel, p) for p in payloads)) == expected_ids(channel)
        assert all(not mentioned(channel, p) for p in payloads[:-1]), "mentions ride on the last part"
    # in order, nothing lost: every paragraph appears once, in sequence, across the parts
    flat = "".join(json.dumps(p, ensure_ascii=False) for p in payloads)
    positions = [flat.find(PARAGRAPH.format(n=n)) for n in range(1, 10)]
    assert all(p >= 0 for p in positions)
    assert positions == sorted(positions)


def test_no_part_breaks_a_normal_line() -> None:
    body = long_text()
    payloads = render(OutboundMessage(body=body), "dingtalk_robot")
    paragraphs = {PARAGRAPH.format(n=n) for n in range(1, 1000)}
    seen = [line for p in payloads for line in p["markdown"]["text"].split("\n\n") if line.startswith("关于推进")]
    assert all(line in paragraphs for line in seen)
    assert len(seen) == len(set(seen)) == body.count("关于推进")


class Bytes:
    """A plain measure for property tests: lines joined by newlines, numbering and mention names counted."""

    def __init__(self, limit: int) -> None:
        self._limit = limit

    @property
    def limit(self) -> int:
        return self._limit

    def text(self, chunk: Chunk) -> str:
        head = f"（{chunk.index}/{chunk.total}）" if chunk.total > 1 else ""
        lines = [head, *(line.text for line in chunk.lines)]
        if chunk.mentions:
            lines.append(" ".join(f"@{m.name}" for m in chunk.mentions))
        return "\n".join(lines)

    def size(self, chunk: Chunk) -> int:
        return len(self.text(chunk).encode())


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=300), max_size=40
    ),
    names=st.lists(st.text(alphabet="张王李赵刘陈杨", min_size=1, max_size=4), max_size=12),
    limit=st.integers(min_value=80, max_value=600),
)
def test_split_invariants(lines: list[str], names: list[str], limit: int) -> None:
    parsed = [Line((Span(text),)) if text else Line() for text in lines]
    mentions = [Mention(name=name) for name in names]
    measure = Bytes(limit)
    chunks = split(parsed, mentions, False, measure)
    assert all(measure.size(chunk) <= limit for chunk in chunks)
    assert "".join(line.text for c in chunks for line in c.lines) == "".join(lines)
    assert [m.name for c in chunks for m in c.mentions] == names
    if len(chunks) > 1:
        assert [(c.index, c.total) for c in chunks] == [(i, len(chunks)) for i in range(1, len(chunks) + 1)]


def test_parse_keeps_bold_and_bullets() -> None:
    [line] = parse("- **甲**乙")
    assert line.bullet
    assert line.spans == (Span("甲", bold=True), Span("乙"))
    head, tail = line.cut(1)
    assert head.spans == (Span("甲", bold=True),) and head.bullet
    assert tail.spans == (Span("乙"),) and not tail.bullet
