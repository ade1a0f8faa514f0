"""Roster files for the roster tests: a good roster as rows, written as CSV in any encoding."""

from __future__ import annotations

import csv
import io
from pathlib import Path

GROUPS = {"强省会工作机制群": "sandbox", "工作机制办公室": "sandbox"}
HEADER = ["单位", "责任处室", "姓名", "角色", "手机", "企业微信账号", "钉钉账号", "所在群"]
GOOD = [
    HEADER,
    ["省商务厅", "综合处", "周雪梅", "A角", "13900000501", "zhouxm", "", "强省会工作机制群"],
    ["省商务厅", "综合处", "吴国庆", "B角", "13900000502", "", "ding_wgq", "强省会工作机制群"],
    ["省财政厅", "经济建设处", "朱晓东", "A角", "13900000801", "", "", "强省会工作机制群"],
    ["工作机制办公室", "", "段红梅", "办公室", "13900009901", "", "", "强省会工作机制群、工作机制办公室"],
]


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def write_csv(tmp_path: Path, rows: list[list[str]], encoding: str = "utf-8", name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows, encoding))
    return path
