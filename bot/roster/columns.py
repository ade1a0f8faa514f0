"""The roster's columns, the header variants people type for them, and the text clean-up every cell gets."""

from __future__ import annotations

import enum
import re
import unicodedata

from storage.models import Role


class Column(enum.StrEnum):
    """A roster column, named by its canonical Chinese header (the one export writes)."""

    UNIT = "单位"
    DIVISION = "责任处室"
    NAME = "姓名"
    ROLE = "角色"
    MOBILE = "手机"
    WECOM = "企业微信账号"
    DINGTALK = "钉钉账号"
    FEISHU = "飞书账号"
    GROUPS = "所在群"


REQUIRED_COLUMNS = (Column.UNIT, Column.NAME, Column.ROLE)

# Header variants, best first: when a sheet has two columns for one field (手机 and 联系电话), the better wins
# and the other is ignored. Keys are compared after ``header_key`` (NFKC, no spaces, lower case, no notes).
_ALIASES: dict[Column, tuple[str, ...]] = {
    Column.UNIT: ("单位", "成员单位", "单位名称", "成员单位名称", "所在单位", "工作单位"),
    Column.DIVISION: ("责任处室", "处室", "处室名称", "所在处室", "责任处", "牵头处室", "责任部门"),
    Column.NAME: ("姓名", "联络员", "联络员姓名", "联系人", "联系人姓名", "人员姓名", "名字"),
    Column.ROLE: ("角色", "a/b角", "ab角", "a、b角", "a角/b角", "类别", "人员类别", "角色类别", "身份"),
    Column.MOBILE: ("手机", "手机号", "手机号码", "联系手机", "移动电话", "联系电话", "电话"),
    Column.WECOM: (
        "企业微信账号",
        "企业微信",
        "企业微信id",
        "企业微信userid",
        "企业微信用户id",
        "企微账号",
        "企微",
        "企微id",
        "wecom",
    ),
    Column.DINGTALK: ("钉钉账号", "钉钉", "钉钉id", "钉钉userid", "钉钉用户id", "dingtalk"),
    Column.FEISHU: ("飞书账号", "飞书", "飞书id", "飞书userid", "飞书用户id", "飞书user_id", "feishu", "lark"),
    Column.GROUPS: ("所在群", "所在群聊", "群名", "群名称", "所属群", "群聊", "群"),
}

_NOTES = re.compile(r"[(\[【].*?[)\]】]")
_SPACE = re.compile(r"\s+")
_CJK = r"[\u3400-\u9fff\uf900-\ufaff]"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<={_CJK})\s+(?={_CJK})")


def clean_text(value: str) -> str:
    """NFKC (full-width letters, digits and spaces become ordinary ones), trimmed, inner spaces collapsed.

    Spaces between two Chinese characters are dropped: offices pad two-character names to line them up
    (王　五), and 王五 is who they mean.
    """
    text = unicodedata.normalize("NFKC", value).strip()
    text = _SPACE_BETWEEN_CJK.sub("", text)
    return _SPACE.sub(" ", text)


def header_key(value: str) -> str:
    """A header as compared with the aliases: ``*手机号（必填）`` and ``手机号`` are the same column."""
    text = unicodedata.normalize("NFKC", value)
    text = _NOTES.sub("", text)
    text = _SPACE.sub("", text).strip("*:：").lower()
    return text.replace("帐号", "账号")


_BY_KEY: dict[str, tuple[Column, int]] = {
    header_key(alias): (column, rank) for column, aliases in _ALIASES.items() for rank, alias in enumerate(aliases)
}


def match_header(value: str) -> tuple[Column, int] | None:
    """The column a header cell names and how good a name for it this is (0 = canonical), or ``None``."""
    return _BY_KEY.get(header_key(value))


_ROLE_WORDS: dict[str, Role] = {
    **dict.fromkeys(("a", "a角", "a岗", "联络员", "主联络员", "主要联络员"), Role.A),
    **dict.fromkeys(("b", "b角", "b岗", "备岗", "副联络员", "备用联络员", "备份联络员"), Role.B),
    **dict.fromkeys(("办公室", "管理员", "办公室人员", "办公室成员", "工作机制办公室"), Role.OFFICE),
}

ROLE_CHOICES = "A角、B角、办公室"


def parse_role(value: str) -> Role | None:
    """The role a 角色 cell names (A / A角 / 联络员 → A; B / B角 / 备岗 → B; 办公室 / 管理员 → office)."""
    return _ROLE_WORDS.get(_SPACE.sub("", unicodedata.normalize("NFKC", value)).lower())


_GROUP_SEPARATORS = re.compile(r"[、,，;；\s]+")


def split_groups(value: str) -> list[str]:
    """The group names in a 所在群 cell, in order, without repeats."""
    names = [name for name in _GROUP_SEPARATORS.split(unicodedata.normalize("NFKC", value)) if name]
    return list(dict.fromkeys(names))


_MOBILE = re.compile(r"1[3-9][0-9]{9}")  # ASCII digits: ``\d`` would take Arabic-Indic and other scripts' digits
_MOBILE_NOISE = re.compile(r"[\s\-()（）.]")


def normalize_mobile(value: str) -> str | None:
    """A mainland mobile number as 11 digits, tolerating spaces, dashes and a +86 prefix; ``None`` if malformed."""
    digits = _MOBILE_NOISE.sub("", unicodedata.normalize("NFKC", value))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    return digits if _MOBILE.fullmatch(digits) else None


def mask_mobile(mobile: str | None) -> str:
    """``139****1234``: enough to tell people apart on a screen, not enough to call them."""
    if not mobile:
        return ""
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) == 11 else "****"
