"""Reading, validating and writing roster files (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from roster_kit import GOOD, GROUPS, HEADER, csv_bytes, write_csv

from bot.roster import ParsedRoster, RosterRejected, read_roster, write_roster
from bot.roster.columns import mask_mobile, normalize_mobile, parse_role, split_groups
from storage.models import Role
from storage.roster import RosterRow


def rejected(path: Path, groups: dict[str, str] = GROUPS) -> list[tuple[tuple[int, ...], str]]:
    with pytest.raises(RosterRejected) as caught:
        read_roster(path, groups)
    return [(problem.rows, problem.message) for problem in caught.value.problems]


def assert_good(parsed: ParsedRoster) -> None:
    assert [(e.row, e.unit, e.division, e.name, e.role) for e in parsed.entries] == [
        (2, "省商务厅", "综合处", "周雪梅", Role.A),
        (3, "省商务厅", "综合处", "吴国庆", Role.B),
        (4, "省财政厅", "经济建设处", "朱晓东", Role.A),
        (5, "工作机制办公室", "", "段红梅", Role.OFFICE),
    ]
    first, second, _, office = parsed.entries
    assert (first.mobile, first.wecom_userid, first.dingtalk_userid) == ("13900000501", "zhouxm", None)
    assert second.dingtalk_userid == "ding_wgq"
    assert office.groups == ("强省会工作机制群", "工作机制办公室")
    assert office.unit_name is None and first.unit_name == "省商务厅"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_in_every_encoding_excel_writes(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path, GOOD, encoding)
    parsed = read_roster(path, GROUPS)
    assert_good(parsed)
    assert parsed.header_row == 1
    assert parsed.sheet is None


def test_gbk_bytes_are_really_not_utf8(tmp_path: Path) -> None:
    data = csv_bytes(GOOD, "gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert_good(read_roster(write_csv(tmp_path, GOOD, "gbk"), GROUPS))


def test_tab_separated_text(tmp_path: Path) -> None:
    path = tmp_path / "roster.txt"
    path.write_bytes(csv_bytes(GOOD, "utf-16", delimiter="\t"))
    assert_good(read_roster(path, GROUPS))


def test_xlsx_written_by_openpyxl_with_title_blank_rows_merged_units_and_numbers(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "联络员名册"
    sheet.append(["“强省会”行动协调推进工作机制成员单位联络员名册"])
    sheet.merge_cells("A1:H1")
    sheet.append([])
    sheet.append(["序号", "成员单位", "处室", "联系人", "A/B角", "手机号码", "企微账号", "钉钉userid", "群名"])
    sheet.append([1, "省商务厅", "综合处", "周　雪梅", "A", 13900000501, "zhouxm", None, "强省会工作机制群"])
    sheet.append([2, None, "综合处", "吴国庆", "备岗", "139 0000 0502", None, "ding_wgq", "强省会工作机制群"])
    sheet.merge_cells("B4:B5")  # the unit is written once over its A角 and B角 rows, as offices do
    sheet.append([])
    sheet.append([3, "省财政厅", "经济建设处", "朱晓东", "a角", "+86 139-0000-0801", None, None, "强省会工作机制群"])
    sheet.append(
        [4, "工作机制办公室", None, "段红梅", "管理员", 13900009901.0, None, None, "强省会工作机制群，工作机制办公室"]
    )
    sheet.append(["注：角色请填写A角、B角或办公室"])
    path = tmp_path / "名册.xlsx"
    workbook.save(path)

    parsed = read_roster(path, GROUPS)
    assert parsed.sheet == "联络员名册"
    assert parsed.header_row == 3
    assert parsed.ignored_columns == ["序号"]
    rows = [(e.row, e.unit, e.name, e.role, e.mobile) for e in parsed.entries]
    assert rows == [
        (4, "省商务厅", "周雪梅", Role.A, "13900000501"),
        (5, "省商务厅", "吴国庆", Role.B, "13900000502"),
        (7, "省财政厅", "朱晓东", Role.A, "13900000801"),
        (8, "工作机制办公室", "段红梅", Role.OFFICE, "13900009901"),
    ]
    assert parsed.entries[3].groups == ("强省会工作机制群", "工作机制办公室")


def test_xlsx_refusal_points_at_the_rows_excel_shows(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["名册"])
    sheet.append(HEADER)
    sheet.append(["省商务厅", "综合处", "周雪梅", "A角", "1390000050", "", "", ""])
    for _ in range(3):
        sheet.append([])
    sheet.append(["省商务厅", "综合处", "吴国庆", "C角", "", "", "", ""])
    path = tmp_path / "bad.xlsx"
    workbook.save(path)
    assert rejected(path) == [
        ((3,), "手机号「1390000050」格式不正确（应为 11 位大陆手机号，如 13900001234）"),
        ((7,), "角色「C角」无法识别（应为A角、B角、办公室之一）"),
    ]


def test_the_active_sheet_is_read_first_and_other_sheets_are_searched(tmp_path: Path) -> None:
    workbook = Workbook()
    notes = workbook.active
    notes.title = "填表说明"
    notes.append(["请按第二个工作表填写"])
    data = workbook.create_sheet("名册")
    for row in GOOD:
        data.append(row)
    path = tmp_path / "two.xlsx"
    workbook.save(path)
    parsed = read_roster(path, GROUPS)
    assert parsed.sheet == "名册"
    assert_good(parsed)


@pytest.mark.parametrize(
    ("headers", "role_word"),
    [
        (["成员单位", "责任处室", "联络员", "角色", "手机号", "企业微信", "钉钉", "所在群"], "A"),
        (["单位名称", "处室", "联系人", "类别", "联系电话", "企业微信ID", "钉钉ID", "群"], "联络员"),
        (["＊单位（必填）", "责任 处室", "姓名(必填)", "A、B角", "手机", "企业微信帐号", "钉钉帐号", "所在群"], "a角"),
    ],
)
def test_header_variants_people_type(tmp_path: Path, headers: list[str], role_word: str) -> None:
    rows = [headers, ["省商务厅", "综合处", "周雪梅", role_word, "13900000501", "zhouxm", "ding1", "强省会工作机制群"]]
    entry = read_roster(write_csv(tmp_path, rows), GROUPS).entries[0]
    assert (entry.unit, entry.division, entry.name, entry.role) == ("省商务厅", "综合处", "周雪梅", Role.A)
    assert (entry.mobile, entry.wecom_userid, entry.dingtalk_userid) == ("13900000501", "zhouxm", "ding1")
    assert entry.groups == ("强省会工作机制群",)


def test_full_width_text_is_normalised(tmp_path: Path) -> None:
    rows = [
        ["　单位　", "责任处室", "姓　名", "角色", "手机", "企业微信账号", "钉钉账号", "所在群"],
        ["　省商务厅　", "综合处", "王　五", "Ａ角", "１３９００００１２３４", "ｗａｎｇｗｕ", "", "强省会工作机制群"],
    ]
    entry = read_roster(write_csv(tmp_path, rows), GROUPS).entries[0]
    assert (entry.unit, entry.name, entry.role) == ("省商务厅", "王五", Role.A)
    assert (entry.mobile, entry.wecom_userid) == ("13900001234", "wangwu")


def test_two_columns_for_one_field_keep_the_better_name(tmp_path: Path) -> None:
    rows = [
        ["单位", "姓名", "角色", "联系电话", "手机", "备注"],
        ["省商务厅", "周雪梅", "A角", "0871-12345678", "13900000501", "无"],
    ]
    parsed = read_roster(write_csv(tmp_path, rows), GROUPS)
    assert parsed.entries[0].mobile == "13900000501"
    assert parsed.ignored_columns == ["备注", "联系电话"]


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    parsed = read_roster(write_csv(tmp_path, [["单位", "姓名", "角色"], ["省商务厅", "周雪梅", "A角"]]), {})
    entry = parsed.entries[0]
    assert (entry.division, entry.mobile, entry.wecom_userid, entry.groups) == ("", None, None, ())


@pytest.mark.parametrize(
    ("word", "role"),
    [
        ("A", Role.A),
        ("a角", Role.A),
        ("A 角", Role.A),
        ("联络员", Role.A),
        ("B", Role.B),
        ("Ｂ角", Role.B),
        ("备岗", Role.B),
        ("办公室", Role.OFFICE),
        ("管理员", Role.OFFICE),
        ("C角", None),
        ("组长", None),
    ],
)
def test_role_words(word: str, role: Role | None) -> None:
    assert parse_role(word) is role


@pytest.mark.parametrize(
    ("text", "mobile"),
    [
        ("13900001234", "13900001234"),
        ("139 0000 1234", "13900001234"),
        ("139-0000-1234", "13900001234"),
        ("+86 139 0000 1234", "13900001234"),
        ("0086-13900001234", "13900001234"),
        ("8613900001234", "13900001234"),
        ("１３９００００１２３４", "13900001234"),
        ("12900001234", None),
        ("1390000123", None),
        ("139000012345", None),
        ("0871-63123456", None),
        ("1.39E+10", None),
    ],
)
def test_mobile_normalisation(text: str, mobile: str | None) -> None:
    assert normalize_mobile(text) == mobile


def test_group_separators() -> None:
    assert split_groups("群甲、群乙，群丙,群丁;群戊；群己 群庚　群甲") == [
        "群甲",
        "群乙",
        "群丙",
        "群丁",
        "群戊",
        "群己",
        "群庚",
    ]


def test_mask_mobile() -> None:
    assert mask_mobile("13900001234") == "139****1234"
    assert mask_mobile(None) == ""


def test_every_problem_is_listed_with_its_row(tmp_path: Path) -> None:
    rows = [
        ["工作机制成员单位联络员名册"],
        HEADER,
        ["省商务厅", "综合处", "周雪梅", "A角", "13900000501", "ZhouXM", "", "强省会工作机制群"],
        ["省商务厅", "综合处", "吴国庆", "组长", "13900000502", "", "", "强省会工作机制群"],
        ["省财政厅", "经济建设处", "朱晓东", "A角", "1390000080", "", "", "强省会工作机制群"],
        ["省财政厅", "经济建设处", "", "B角", "", "", "", ""],
        ["", "", "胡春燕", "B角", "", "", "", ""],
        ["", "", "", "", "", "", "", ""],
        ["省国资委", "规划发展处", "郭建军", "B角", "13900000501", "zhouxm", "d1", ""],
        ["省交通运输厅", "综合规划处", "孙丽娟", "A角", "", "", "d1", "强省会群"],
        ["省交通运输厅", "综合规划处", "马永红", "A", "", "", "", ""],
        ["省交通运输厅", "综合规划处", "马永红", "B角", "", "", "", ""],
        ["省住房城乡建设厅", "", "陈志强", "A角", "1.39E+10", "chen zq", "", ""],
    ]
    assert rejected(write_csv(tmp_path, rows)) == [
        ((3, 9), "手机号「13900000501」重复出现（每人应唯一）"),
        ((3, 9), "企业微信账号「ZhouXM」重复出现（每人应唯一）"),
        ((4,), "角色「组长」无法识别（应为A角、B角、办公室之一）"),
        ((5,), "手机号「1390000080」格式不正确（应为 11 位大陆手机号，如 13900001234）"),
        ((6,), "未填写姓名"),
        ((7,), "未填写单位"),
        ((9,), "单位「省国资委」没有 A角（联络员）：每个成员单位须有且仅有一名 A角"),
        ((9, 10), "钉钉账号「d1」重复出现（每人应唯一）"),
        ((10,), "所在群「强省会群」不是配置文件中的群（已配置：强省会工作机制群、工作机制办公室）"),
        (
            (10, 11),
            "单位「省交通运输厅」有 2 名 A角（孙丽娟、马永红）：每个成员单位只能有一名 A角，其余请填为 B角",
        ),
        ((11, 12), "省交通运输厅的马永红重复出现（同一人只应占一行）"),
        (
            (13,),
            "手机号「1.39E+10」已被 Excel 显示为科学计数法，数字已丢失：请将手机列设为“文本”格式后重新填写",
        ),
        (
            (13,),
            "企业微信账号「chen zq」格式不正确（应为通讯录中的账号，由字母、数字和 _-@. 组成，"
            "以字母或数字开头，不超过 64 个字符）",
        ),
    ]


def test_unit_without_a_liaison_is_reported_on_each_of_its_rows(tmp_path: Path) -> None:
    rows = [
        HEADER,
        ["省商务厅", "综合处", "周雪梅", "A角", "", "", "", ""],
        ["省农业农村厅", "发展规划处", "赵文博", "B角", "", "", "", ""],
        ["省农业农村厅", "发展规划处", "黄海涛", "B角", "", "", "", ""],
    ]
    assert rejected(write_csv(tmp_path, rows)) == [
        ((3, 4), "单位「省农业农村厅」没有 A角（联络员）：每个成员单位须有且仅有一名 A角"),
    ]


def test_missing_role_and_office_rows_need_no_unit(tmp_path: Path) -> None:
    rows = [
        HEADER,
        ["省商务厅", "综合处", "周雪梅", "", "", "", "", ""],
        ["", "", "段红梅", "办公室", "", "", "", ""],
    ]
    assert rejected(write_csv(tmp_path, rows)) == [((2,), "未填写角色（应为A角、B角、办公室之一）")]


def test_group_must_be_configured_even_when_none_are(tmp_path: Path) -> None:
    path = write_csv(tmp_path, GOOD[:2])
    assert rejected(path, {}) == [
        ((2,), "所在群「强省会工作机制群」不是配置文件中的群（配置文件中尚未配置任何群，请先在 [[groups]] 中添加）")
    ]


def test_missing_required_header(tmp_path: Path) -> None:
    rows = [["名册"], ["单位", "姓名", "手机", "所在群"], ["省商务厅", "周雪梅", "13900000501", ""]]
    assert rejected(write_csv(tmp_path, rows)) == [((2,), "表头缺少必需的列：角色")]


def test_repeated_header(tmp_path: Path) -> None:
    rows = [["单位", "姓名", "姓名", "角色"], ["省商务厅", "周雪梅", "周雪梅", "A角"]]
    assert rejected(write_csv(tmp_path, rows)) == [((1,), "表头中「姓名」出现了 2 次，无法确定使用哪一列")]


def test_no_header_at_all(tmp_path: Path) -> None:
    rows = [["省商务厅", "周雪梅", "A角"]]
    assert rejected(write_csv(tmp_path, rows)) == [
        (
            (),
            "未找到表头：前 30 行中没有包含列名"
            "（单位、责任处室、姓名、角色、手机、企业微信账号、钉钉账号、飞书账号、所在群）的行",
        )
    ]


def test_header_without_people(tmp_path: Path) -> None:
    assert rejected(write_csv(tmp_path, [HEADER, [""] * 8])) == [((), "表头（第1行）以下没有任何人员")]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("roster.et", b"\xd0\xcf\x11\xe0", "不支持 .et 格式：请在 Excel 或 WPS 中“另存为” .xlsx 或 .csv 后再导入"),
        ("roster.pdf", b"%PDF", "不支持的文件类型「.pdf」：请使用 .xlsx、.xls 或 .csv"),
        ("roster.csv", b"\xff\xfe\x00", "无法识别文件编码：请将 CSV 保存为 UTF-8 或 GBK 编码"),
        (
            "roster.csv",
            "单位,姓名\n\x00".encode(),
            "文件中含有空字符（NUL），不是文本格式的 CSV：请在 Excel 中“另存为” CSV（逗号分隔）",
        ),
        ("roster.csv", b'"a' + b"x" * 200_000, "CSV 格式有误（第 1 行附近）：可能有不成对的引号或过长的单元格"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert rejected(path) == [((), message)]


def test_broken_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    [(rows, message)] = rejected(path)
    assert rows == ()
    assert message.startswith("无法读取 Excel 文件")


def test_missing_file(tmp_path: Path) -> None:
    assert rejected(tmp_path / "none.csv") == [((), f"找不到文件 {tmp_path / 'none.csv'}")]


def test_render_lists_every_problem() -> None:
    with pytest.raises(RosterRejected) as caught:
        read_roster(Path("/nonexistent/roster.xls"), GROUPS)
    assert caught.value.render().splitlines()[0] == "名册有 1 处问题，整份文件未导入（未作任何修改）："


def test_warnings_do_not_refuse(tmp_path: Path) -> None:
    groups = {"强省会工作机制群": "wecom", "钉钉群": "dingtalk"}
    rows = [
        HEADER,
        ["省商务厅", "综合处", "周雪梅", "A角", "", "zhouxm", "", "强省会工作机制群、钉钉群"],
        ["省商务厅", "外贸处", "吴国庆", "B角", "", "", "", ""],
    ]
    parsed = read_roster(write_csv(tmp_path, rows), groups)
    assert [(w.rows, w.message) for w in parsed.warnings] == [
        ((2,), "省商务厅 周雪梅（A角）在钉钉群「钉钉群」中，但未填写钉钉账号，机器人将无法识别其在群内的报送"),
        ((2, 3), "单位「省商务厅」的责任处室填写不一致（「综合处」、「外贸处」），以 A角所在行为准"),
        ((3,), "省商务厅 吴国庆（B角）未填写所在群，将收不到群内提醒"),
    ]


def _rows() -> list[RosterRow]:
    return [
        RosterRow(
            "省商务厅",
            "综合处",
            "周雪梅",
            Role.A,
            "13900000501",
            "zhouxm",
            None,
            "zxm-feishu",
            ("强省会工作机制群",),
            True,
        ),
        RosterRow("省商务厅", "综合处", "=HYPERLINK(1)", Role.B, None, None, "-ding", None, (), True),
        RosterRow("工作机制办公室", "", "段红梅", Role.OFFICE, "13900009901", None, None, None, tuple(GROUPS), True),
    ]


def test_csv_export_has_a_bom_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_roster(path, _rows())
    data = path.read_bytes()
    assert data.startswith("\ufeff单位,责任处室".encode())
    assert "'=HYPERLINK(1)" in data.decode("utf-8-sig")  # Excel must not run it as a formula
    parsed = read_roster(path, GROUPS)
    assert [
        (e.unit, e.name, e.role, e.mobile, e.dingtalk_userid, e.feishu_userid, e.groups) for e in parsed.entries
    ] == [
        ("省商务厅", "周雪梅", Role.A, "13900000501", None, "zxm-feishu", ("强省会工作机制群",)),
        ("省商务厅", "=HYPERLINK(1)", Role.B, None, "-ding", None, ()),
        ("工作机制办公室", "段红梅", Role.OFFICE, "13900009901", None, None, tuple(GROUPS)),
    ]


def test_xlsx_export_is_all_text_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    write_roster(path, _rows())
    sheet = load_workbook(path).active
    assert [cell.value for cell in sheet[1]] == [*HEADER[:7], "飞书账号", HEADER[7]]
    assert sheet["H2"].value == "zxm-feishu"
    assert sheet["E2"].value == "13900000501" and sheet["E2"].data_type == "s"
    assert sheet["C3"].value == "=HYPERLINK(1)" and sheet["C3"].data_type == "s"
    parsed = read_roster(path, GROUPS)
    assert [e.name for e in parsed.entries] == ["周雪梅", "=HYPERLINK(1)", "段红梅"]
    assert parsed.entries[2].groups == tuple(GROUPS)


def test_export_refuses_other_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="不支持导出"):
        write_roster(tmp_path / "out.ods", _rows())
    assert list(tmp_path.iterdir()) == []


DEMO_XLS = Path(__file__).parent / "data" / "roster-demo.xls"
DEMO_GROUPS = {"强省会工作机制群": "sandbox", "工作机制办公室": "sandbox"}


def test_legacy_xls_reads_like_the_csv_it_was_made_from() -> None:
    from bot.demo import DEMO_ROSTER

    from_xls = read_roster(DEMO_XLS, DEMO_GROUPS)
    from_csv = read_roster(DEMO_ROSTER, DEMO_GROUPS)
    assert from_xls.sheet == "名册"
    assert [(e.row, e.unit, e.name, e.role, e.mobile) for e in from_xls.entries] == [
        (e.row, e.unit, e.name, e.role, e.mobile) for e in from_csv.entries
    ]


def _rezip(source: Path, target: Path, change: dict[str, bytes]) -> None:
    import zipfile

    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for name in original.namelist():
            copy.writestr(name, change.get(name, original.read(name)))
        for name in change.keys() - set(original.namelist()):
            copy.writestr(name, change[name])


def _good_xlsx(tmp_path: Path) -> Path:
    workbook = Workbook()
    for row in GOOD:
        workbook.active.append(row)
    path = tmp_path / "good.xlsx"
    workbook.save(path)
    return path


@pytest.mark.parametrize(
    "sheet",
    [
        b"<worksheet><sheetData><row r='1'><c r='A1' t='s'><v>0",
        b"\x00\x01garbage",
        b"<worksheet><sheetData><row r='x'>",
    ],
)
def test_damaged_sheet_is_refused_in_chinese(tmp_path: Path, sheet: bytes) -> None:
    damaged = tmp_path / "damaged.xlsx"
    _rezip(_good_xlsx(tmp_path), damaged, {"xl/worksheets/sheet1.xml": sheet})
    [(rows, message)] = rejected(damaged)
    assert rows == ()
    assert message.startswith("无法读取 Excel 文件")


def test_zip_that_expands_beyond_reason_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xlsx"
    _rezip(_good_xlsx(tmp_path), bomb, {"xl/media/padding.bin": b"\x00" * (210 * 1024 * 1024)})
    assert rejected(bomb) == [((), "Excel 文件解压后过大，不像是一份名册（可能已损坏）")]


def test_damaged_xls_is_refused_in_chinese(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.xls"
    damaged.write_bytes(DEMO_XLS.read_bytes()[:3000])
    [(_rows, message)] = rejected(damaged)
    assert message.startswith("无法读取 Excel 文件")


@pytest.mark.parametrize("header", ["飞书账号", "飞书ID", "飞书帐号", "Feishu", "飞书 user_id"])
def test_the_feishu_column_is_read_under_any_usual_header(tmp_path: Path, header: str) -> None:
    feishu = [header, "zhouxm-fs", "", "wgq_01", ""]
    rows = [[*row[:7], account, row[7]] for row, account in zip(GOOD, feishu, strict=True)]
    parsed = read_roster(write_csv(tmp_path, rows), GROUPS)
    assert [(e.name, e.feishu_userid) for e in parsed.entries] == [
        ("周雪梅", "zhouxm-fs"),
        ("吴国庆", None),
        ("朱晓东", "wgq_01"),
        ("段红梅", None),
    ]


def test_a_file_without_the_feishu_column_reads_as_before(tmp_path: Path) -> None:
    parsed = read_roster(write_csv(tmp_path, GOOD), GROUPS)
    assert [(e.name, e.wecom_userid, e.dingtalk_userid, e.feishu_userid) for e in parsed.entries] == [
        ("周雪梅", "zhouxm", None, None),
        ("吴国庆", None, "ding_wgq", None),
        ("朱晓东", None, None, None),
        ("段红梅", None, None, None),
    ]


def test_feishu_accounts_are_checked_like_the_other_accounts(tmp_path: Path) -> None:
    feishu = ["飞书账号", "fs 01", "fs02", "fs02", ""]
    rows = [[*row[:7], account, row[7]] for row, account in zip(GOOD, feishu, strict=True)]
    assert rejected(write_csv(tmp_path, rows)) == [
        ((2,), "飞书账号「fs 01」格式不正确（应为飞书通讯录中的用户 ID（user_id），不含空格，不超过 64 个字符）"),
        ((3, 4), "飞书账号「fs02」重复出现（每人应唯一）"),
    ]


def test_a_liaison_in_a_feishu_group_without_a_feishu_account_is_warned(tmp_path: Path) -> None:
    groups = {"飞书群": "feishu"}
    rows = [
        ["单位", "姓名", "角色", "飞书账号", "所在群"],
        ["省商务厅", "周雪梅", "A角", "", "飞书群"],
        ["省商务厅", "吴国庆", "B角", "wgq01", "飞书群"],
    ]
    parsed = read_roster(write_csv(tmp_path, rows), groups)
    assert [(w.rows, w.message) for w in parsed.warnings] == [
        ((2,), "省商务厅 周雪梅（A角）在飞书群「飞书群」中，但未填写飞书账号，机器人将无法识别其在群内的报送"),
    ]
