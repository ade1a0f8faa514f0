"""The demo, by chat: raised by a liaison, assigned by the office, signed, progressed, reported done, closed;
the ledger in the next briefing, and exported."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_flow_by_chat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DUBAN_SERVER__PORT", str(free_port()))  # no service there: say runs the pipeline here
    monkeypatch.delenv("DUBAN_CONFIG", raising=False)
    assert main(["init", "--demo", "--if-missing"]) == 0
    capsys.readouterr()

    def say(who: str, text: str) -> str:
        assert main(["say", "--as", who, text]) == 0
        return capsys.readouterr().out

    out = say("周雪梅", "问题 外贸企业用地审批慢：园区3家外贸企业用地手续已报送两个月未获批复。")
    assert "已登记问题#1「外贸企业用地审批慢」" in out and "[工作机制办公室] 机器人" in out
    out = say("段红梅", "交办 #1 省自然资源厅 配合 省商务厅 截止 2099年12月10日")
    assert "[强省会工作机制群] 机器人（提及：徐立新、周雪梅、吴国庆）" in out
    assert "已签收" in say("徐立新", "签收 #1")
    assert "已记录" in say("徐立新", "进展 #1 已与园区对接，正在补齐材料")
    out = say("徐立新", "办结 #1 3家企业用地手续已全部批复")
    assert "待审核" in out and "销号 #1" in out
    out = say("段红梅", "销号 #1")
    assert "已办结" in out and "（提及：徐立新）" in out
    out = say("周雪梅", "事项 #1")
    assert "状态：已办结" in out and "徐立新 办结：3家企业用地手续已全部批复" in out

    assert main(["items", "export", "-o", "台账.xlsx"]) == 0
    sheet = load_workbook(tmp_path / "台账.xlsx").active
    assert sheet is not None
    row = [cell.value for cell in sheet[3]]
    assert row[:7] == ["#1", "外贸企业用地审批慢\n园区3家外贸企业用地手续已报送两个月未获批复。", "周雪梅（省商务厅）",
                       "省自然资源厅", "省商务厅", row[5], "已办结"]  # fmt: skip
    assert len(str(row[11]).splitlines()) == 6
