"""``duban roster import|export|show`` and ``duban init --demo``, through ``bot.cli.main``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from roster_kit import GOOD, write_csv
from sqlalchemy import func, select

from bot.cli import main
from bot.cli.roster import display_width
from storage.db import Database
from storage.models import AuditEntry, GroupMember, Person, Unit

CONFIG = """
office_name = "工作机制办公室"

[database]
url = "{url}"

[[groups]]
name = "强省会工作机制群"
platform = "sandbox"

[[groups]]
name = "工作机制办公室"
platform = "sandbox"
office = true
"""


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str) -> Path:
    path = tmp_path / "duban.toml"
    path.write_text(CONFIG.format(url=sqlite_url), encoding="utf-8")
    return path


def duban(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def table_counts(config: Path) -> tuple[int, int, int, int]:
    url = config.read_text(encoding="utf-8").split('url = "')[1].split('"')[0]

    async def count() -> tuple[int, int, int, int]:
        db = Database(url)
        try:
            async with db.sessions() as session:
                return (
                    await session.scalar(select(func.count()).select_from(Unit)) or 0,
                    await session.scalar(select(func.count()).select_from(Person)) or 0,
                    await session.scalar(select(func.count()).select_from(GroupMember)) or 0,
                    await session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
                )
        finally:
            await db.close()

    return asyncio.run(count())


def test_import_twice_reports_zero_changes_the_second_time(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, GOOD, "gbk")
    assert duban(config, "roster", "import", str(path)) == 0
    out = capsys.readouterr().out
    assert "已读取 roster.csv（表头在第 1 行）：校验通过，2 个成员单位，4 人（A角 2、B角 1、办公室 1）。" in out
    assert "导入完成：" in out
    assert "新增人员：省商务厅 周雪梅（A角）" in out
    assert "新增单位：省财政厅" in out
    assert table_counts(config) == (2, 4, 5, 1)

    assert duban(config, "roster", "import", str(path)) == 0
    assert "名册与数据库中的完全一致，没有任何修改（0 处变更）。" in capsys.readouterr().out
    assert table_counts(config)[:3] == (2, 4, 5)


def test_a_bad_file_is_refused_whole_with_row_numbers(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [*GOOD, ["省农业农村厅", "", "黄海涛", "B角", "139", "", "", ""]]
    path = write_csv(tmp_path, rows)
    assert duban(config, "roster", "import", str(path)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    # (log lines may precede the verdict on stderr)
    assert captured.err[captured.err.index("名册有") :].splitlines() == [
        "名册有 2 处问题，整份文件未导入（未作任何修改）：",
        "  1. 第6行：手机号「139」格式不正确（应为 11 位大陆手机号，如 13900001234）",
        "  2. 第6行：单位「省农业农村厅」没有 A角（联络员）：每个成员单位须有且仅有一名 A角",
    ]
    assert table_counts(config) == (0, 0, 0, 0)


def test_dry_run_changes_nothing(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path, GOOD)
    assert duban(config, "roster", "import", "--dry-run", str(path)) == 0
    out = capsys.readouterr().out
    assert "试运行（未写入数据库），导入后将：" in out
    assert "新增人员：段红梅（办公室）" in out
    assert table_counts(config) == (0, 0, 0, 0)


def test_warnings_and_ignored_columns_are_shown(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [["序号", "单位", "姓名", "角色"], ["1", "省商务厅", "周雪梅", "A角"]]
    assert duban(config, "roster", "import", str(write_csv(tmp_path, rows))) == 0
    out = capsys.readouterr().out
    assert "已忽略的列：序号" in out
    assert "  - 第2行：省商务厅 周雪梅（A角）未填写所在群，将收不到群内提醒" in out


def test_export_show_and_deactivation(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert duban(config, "roster", "import", str(write_csv(tmp_path, GOOD))) == 0
    exported = tmp_path / "export.xlsx"
    assert duban(config, "roster", "export", str(exported)) == 0
    assert f"已导出 4 名在册人员到 {exported}。" in capsys.readouterr().out
    assert duban(config, "roster", "export", str(exported)) == 1
    assert "已存在" in capsys.readouterr().err
    assert duban(config, "roster", "export", "--force", str(exported)) == 0
    capsys.readouterr()
    assert duban(config, "roster", "import", str(exported)) == 0
    assert "0 处变更" in capsys.readouterr().out

    smaller = write_csv(tmp_path, [row for row in GOOD if row[0] != "省财政厅"], name="smaller.csv")
    assert duban(config, "roster", "import", str(smaller)) == 0
    out = capsys.readouterr().out
    assert "停用人员：省财政厅 朱晓东（A角）" in out
    assert "停用单位：省财政厅" in out

    assert duban(config, "roster", "show") == 0
    shown = capsys.readouterr().out
    lines = shown.splitlines()
    assert lines[0].split() == [*GOOD[0][:7], "飞书账号", GOOD[0][7], "状态"]
    assert "139****0501" in shown and "13900000501" not in shown
    assert "朱晓东" not in shown
    assert lines[-1] == "共 1 个成员单位，3 名在册人员。"

    assert duban(config, "roster", "show", "--all") == 0
    shown = capsys.readouterr().out
    assert "朱晓东" in shown and "已停用" in shown
    assert shown.splitlines()[-1] == "共 1 个成员单位，3 名在册人员，1 名已停用。"


def test_show_aligns_chinese_columns(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert duban(config, "roster", "import", str(write_csv(tmp_path, GOOD))) == 0
    capsys.readouterr()
    assert duban(config, "roster", "show") == 0
    lines = capsys.readouterr().out.splitlines()[:6]
    # Every row's 姓名 starts at the same screen column, however wide the units before it are.
    starts = {
        display_width(line[: line.index(name)])
        for line, name in zip(lines, ["姓名", "", *(r[2] for r in GOOD[1:])], strict=True)
        if name
    }
    assert len(starts) == 1
    assert set(lines[1]) == {"-", " "}


def test_export_refuses_unknown_extension(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert duban(config, "roster", "export", str(tmp_path / "roster.ods")) == 1
    assert "不支持导出为「.ods」" in capsys.readouterr().err


def test_empty_roster_show(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert duban(config, "roster", "show") == 0
    assert "名册为空" in capsys.readouterr().out


def test_schema_must_be_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(CONFIG.format(url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"), encoding="utf-8")
    for args in (["show"], ["export", str(tmp_path / "x.csv")], ["import", str(write_csv(tmp_path, GOOD))]):
        assert duban(config, "roster", *args) == 3
        assert "duban db upgrade" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_database_url_from_environment(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(CONFIG.format(url="sqlite+aiosqlite:///nowhere/duban.db"), encoding="utf-8")
    monkeypatch.setenv("DUBAN_DATABASE__URL", sqlite_url)
    assert duban(config, "roster", "import", str(write_csv(tmp_path, GOOD))) == 0
    capsys.readouterr()
    assert duban(config, "roster", "show") == 0
    assert "段红梅" in capsys.readouterr().out


def test_init_demo_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DUBAN_CONFIG", raising=False)
    monkeypatch.delenv("DUBAN_DATABASE__URL", raising=False)
    assert main(["init", "--demo", "--if-missing"]) == 0
    assert "已载入演示名册。" in capsys.readouterr().out
    assert main(["roster", "show"]) == 0
    shown = capsys.readouterr().out
    for unit in ("省发展改革委", "省工业和信息化厅", "省住房城乡建设厅", "省农业农村厅", "省商务厅", "昆明市人民政府"):
        assert unit in shown
    assert shown.splitlines()[-1] == "共 10 个成员单位，21 名在册人员。"
    assert "工作机制办公室" in shown and "办公室" in shown

    assert main(["init", "--demo", "--if-missing"]) == 0
    assert "数据库中已有名册，未载入演示数据。" in capsys.readouterr().out
    assert main(["roster", "export", "demo.csv"]) == 0
    assert main(["roster", "import", "demo.csv"]) == 0
    assert "0 处变更" in capsys.readouterr().out


def test_demo_needs_its_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "duban.toml").write_text('[database]\nurl = "sqlite+aiosqlite:///var/duban.db"\n', encoding="utf-8")
    assert main(["--config", "duban.toml", "init", "--demo"]) == 2
    err = capsys.readouterr().err
    assert "演示名册需要配置文件中的沙箱群「强省会工作机制群」「工作机制办公室」" in err
    assert 'platform = "sandbox"' in err


def test_a_corrupt_sheet_is_refused_in_chinese_not_a_traceback(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import zipfile

    from openpyxl import Workbook

    workbook = Workbook()
    for row in GOOD:
        workbook.active.append(row)
    good = tmp_path / "good.xlsx"
    workbook.save(good)
    corrupt = tmp_path / "corrupt.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(corrupt, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, data[: len(data) // 2] if name.endswith("sheet1.xml") else data)
    assert duban(config, "roster", "import", str(corrupt)) == 1
    captured = capsys.readouterr()
    assert "无法读取 Excel 文件" in captured.err and "Traceback" not in captured.err + captured.out
    assert table_counts(config) == (0, 0, 0, 0)
