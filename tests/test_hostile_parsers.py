"""Property-based fuzzing (hypothesis) of every parser that reads what outsiders write.

Each parser, fed anything at all, either returns a well-formed value or refuses in the one way it is meant to
(``Refused`` at the edge, ``None`` or ``ValueError`` elsewhere) — never any other exception, which at the edge
would be an answer nobody designed. The profile in ``tests/conftest.py`` keeps the examples deterministic.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import pytest
import yarl
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import handlers.commands  # noqa: F401 - registers every command
from bot.inbound.dingtalk import callback_sign, parse_dingtalk_message, verify_callback, webhook_on_platform
from bot.inbound.edge import MAX_ID_CHARS, Refused, parse_json_object, prepared
from bot.inbound.sandbox import SandboxPost, sandbox_message
from bot.inbound.wecom_app import parse_app_message, parse_xml
from bot.inbound.wecom_bot import parse_bot_message
from bot.inbound.wecom_crypto import WecomCallbackCrypto, signature_of
from bot.outbound.markup import inert, parse
from bot.outbound.render import (
    DINGTALK_LIMIT,
    FEISHU_BODY_LIMIT,
    FEISHU_SIGN_RESERVE,
    RESPONSE_URL_LIMIT,
    WECOM_APP_LIMIT,
    WECOM_MARKDOWN_LIMIT,
    WECOM_TEXT_LIMIT,
    dialect_for,
    unique_mentions,
    wire_json,
)
from bot.roster.columns import (
    clean_text,
    header_key,
    mask_mobile,
    match_header,
    normalize_mobile,
    parse_role,
    split_groups,
)
from handlers.commands.registry import REGISTRY, match, normalize, raw_arguments
from handlers.period_marker import leading_marker, parse_period
from storage.inbox import InboundMessage
from storage.models import Role
from storage.outbound import Mention, OutboundMessage, quote
from storage.periods import Period
from tests.inbound_kit import A_AES_KEY, A_CORP_ID, A_TOKEN, BOT_AES_KEY, BOT_TOKEN, raw_encrypt

# ---- strategies ----------------------------------------------------------------------------------------

# Text that favours what hurts parsers: markup, quotes, digits of every script, bidi and zero-width marks.
TRICKY = st.sampled_from(
    [*"<>&;\"'[](){}*_`#|~\\@:/%=\n\r\t ", "\x00", "\u202e", "\u200b", "\u061c", "\ufeff", "\u3000", "１", "٣"]
)
TEXT = st.text(st.one_of(st.characters(codec="utf-8"), TRICKY), max_size=60)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12
)


def anything_or(*choices: Any) -> st.SearchStrategy[Any]:
    """One of ``choices`` (what the platform sends), or any JSON value at all."""
    return st.one_of(st.sampled_from(choices), JSON_VALUES) if choices else JSON_VALUES


def assert_storable(message: InboundMessage) -> None:
    """What the edge would insert: valid UTF-8 everywhere, no NUL, identifiers within their columns."""
    try:
        message = prepared(message)
    except Refused as refusal:
        assert refusal.status == 400
        return
    for value in (message.message_id, message.sender_id, message.chat_id, message.text, message.sender_name):
        assert "\x00" not in value
        value.encode("utf-8")
    assert len(message.message_id) <= MAX_ID_CHARS
    json.dumps(message.raw, ensure_ascii=False, allow_nan=False).encode("utf-8")  # as PostgreSQL's json takes it


def assert_refusal(refusal: Refused) -> None:
    assert refusal.status in (400, 403), refusal.reason


# ---- WeCom: the JSON callback of the 智能机器人 -----------------------------------------------------------

BOT_MESSAGES = st.fixed_dictionaries(
    {},
    optional={
        "msgid": anything_or("m1", "9" * 300),
        "chatid": anything_or("wrchat", "c" * 200),
        "chattype": anything_or("group", "single"),
        "from": st.one_of(
            st.fixed_dictionaries({}, optional={"userid": anything_or("zhangwei", "u" * 129)}), JSON_VALUES
        ),
        "response_url": anything_or("https://qyapi.weixin.qq.com/cgi-bin/aibot/response?x=1"),
        "msgtype": anything_or("text", "voice", "image", "file", "video", "mixed", "stream", "event"),
        "text": st.one_of(
            st.fixed_dictionaries({}, optional={"content": anything_or("@督办助手 10月：已完成")}), JSON_VALUES
        ),
        "mixed": st.fixed_dictionaries(
            {},
            optional={
                "msg_item": st.lists(
                    st.one_of(
                        st.fixed_dictionaries(
                            {"msgtype": anything_or("text", "image")},
                            optional={"text": JSON_VALUES, "image": JSON_VALUES},
                        ),
                        JSON_VALUES,
                    ),
                    max_size=4,
                )
            },
        ),
    },
)


@given(BOT_MESSAGES)
@example({"msgid": 10**400, "msgtype": "text", "text": {"content": "x"}})
@example({"msgtype": "mixed", "mixed": {"msg_item": [{"msgtype": "text", "text": {"content": ["nested"]}}]}})
def test_wecom_bot_json_callbacks(message: dict[str, Any]) -> None:
    plaintext = json.dumps(message, ensure_ascii=False)
    try:
        parsed = parse_bot_message(plaintext)
    except Refused as refusal:
        assert_refusal(refusal)
        return
    if parsed is None:
        assert message.get("msgtype") == "stream"
        return
    assert parsed.platform == "wecom" and parsed.reply is not None
    assert_storable(parsed)


@given(TEXT)
@example("[" * 5000 + "]" * 5000)
@example('{"msgid": ' + "9" * 5000 + "}")
@example('{"a": 1, "a": 2}')
def test_wecom_bot_any_plaintext(plaintext: str) -> None:
    try:
        parsed = parse_bot_message(plaintext)
    except Refused as refusal:
        assert_refusal(refusal)
        return
    if parsed is not None:
        assert_storable(parsed)


# ---- WeCom: the XML of the self-built app --------------------------------------------------------------

DTDS = st.sampled_from(
    [
        "",
        '<?xml version="1.0"?>',
        '<?xml version="1.0" encoding="GBK"?>',
        "<!DOCTYPE xml>",
        '<!DOCTYPE xml [<!ENTITY a "x">]>',
        '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>',
        '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd">',
        "<!-- comment -->",
        "<?pi target?>",
    ]
)
XML_NAMES = st.sampled_from(
    ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "AgentID", "MediaId", "Event"]
) | st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.-]{0,8}\Z")
XML_TEXT = st.one_of(
    TEXT.map(lambda value: value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")),
    TEXT.map(lambda value: "<![CDATA[" + value.replace("]]>", "") + "]]>"),
    st.sampled_from(["&a;", "&xxe;", "&#0;", "&#x1F600;", "&lt;@all&gt;", "text", "1763600000", "9" * 400]),
    st.sampled_from(["", "<", "]]>", "&", "</xml>", "<xml>"]),
)


def _elements(depth: int) -> st.SearchStrategy[str]:
    leaf = st.tuples(XML_NAMES, XML_TEXT).map(lambda pair: f"<{pair[0]}>{pair[1]}</{pair[0]}>")
    if depth == 0:
        return leaf
    nested = st.tuples(XML_NAMES, st.lists(_elements(depth - 1), max_size=3)).map(
        lambda pair: f"<{pair[0]}>{''.join(pair[1])}</{pair[0]}>"
    )
    return st.one_of(leaf, nested)


XML_DOCUMENTS = st.tuples(DTDS, st.sampled_from(["xml", "xml", "root"]), st.lists(_elements(2), max_size=8)).map(
    lambda parts: f"{parts[0]}<{parts[1]}>{''.join(parts[2])}</{parts[1]}>"
)


@given(XML_DOCUMENTS)
@example("<xml><MsgType>text</MsgType><Content>a</Content><Content>b</Content></xml>")
@example("<xml><FromUserName><a>1</a></FromUserName><CreateTime>99999999999999999999</CreateTime></xml>")
def test_wecom_app_xml_messages(document: str) -> None:
    try:
        parsed = parse_app_message(document)
    except Refused as refusal:
        assert_refusal(refusal)
        return
    assert parsed.platform == "wecom" and parsed.chat_type == "single"
    assert_storable(parsed)


@given(TEXT)
@example("<xml>" * 20_000)
@example("<a>" * 20_000 + "</a>" * 20_000)
def test_wecom_xml_any_text(text: str) -> None:
    try:
        root = parse_xml(text, "body")
    except Refused as refusal:
        assert refusal.status == 400
        return
    assert isinstance(root, dict)


# ---- WeCom: the crypto layer under both endpoints -------------------------------------------------------

# endpoint → (its crypto, its token); the AES keys below
CRYPTOS = {
    "bot": (WecomCallbackCrypto(token=BOT_TOKEN, encoding_aes_key=BOT_AES_KEY, receive_id="", window=300), BOT_TOKEN),
    "app": (WecomCallbackCrypto(token=A_TOKEN, encoding_aes_key=A_AES_KEY, receive_id=A_CORP_ID, window=300), A_TOKEN),
}
KEYS = {"bot": BOT_AES_KEY, "app": A_AES_KEY}


@st.composite
def ciphertexts(draw: st.DrawFn) -> tuple[str, str]:
    """(endpoint, payload): random bytes, or a WeCom frame with a lying length, a foreign receiveid, bad padding."""
    endpoint = draw(st.sampled_from(["bot", "app"]))
    kind = draw(st.sampled_from(["bytes", "frame", "text"]))
    if kind == "text":
        return endpoint, draw(TEXT)
    if kind == "bytes":
        return endpoint, base64.b64encode(draw(st.binary(max_size=96))).decode()
    message = draw(st.binary(max_size=40))
    receive_id = draw(st.sampled_from([b"", A_CORP_ID.encode(), b"wwother", "企业".encode()]))
    length = draw(st.one_of(st.just(len(message)), st.integers(0, 2**32 - 1)))
    body = draw(st.binary(min_size=16, max_size=16)) + struct.pack(">I", length) + message + receive_id
    pad = draw(st.booleans())
    if not pad:
        body += b"\x00" * (-len(body) % 16)
    return endpoint, raw_encrypt(KEYS[endpoint], body, pad=pad)


@given(ciphertexts(), st.text(max_size=12), st.text(max_size=12))
def test_wecom_ciphertexts_that_are_properly_signed(sample: tuple[str, str], timestamp: str, nonce: str) -> None:
    """Only a holder of the token can sign; what is inside a signed payload may still be anything."""
    endpoint, payload = sample
    crypto, token = CRYPTOS[endpoint]
    signature = signature_of(token, timestamp, nonce, payload)
    try:
        plaintext = crypto.decrypt(signature=signature, timestamp=timestamp, nonce=nonce, payload=payload)
    except Refused as refusal:
        assert_refusal(refusal)
        return
    assert isinstance(plaintext, str)


@given(st.text(max_size=48), st.text(max_size=16), st.text(max_size=16), TEXT)
def test_wecom_signatures_from_anyone_else(signature: str, timestamp: str, nonce: str, payload: str) -> None:
    crypto, _ = CRYPTOS["bot"]
    with pytest.raises(Refused) as refused:
        crypto.verified_plaintext(signature=signature, timestamp=timestamp, nonce=nonce, payload=payload, now=1.7e9)
    assert refused.value.status == 403


# ---- DingTalk ----------------------------------------------------------------------------------------------

WEBHOOK_HOSTS = st.sampled_from(
    [
        "oapi.dingtalk.com",
        "api.dingtalk.com",
        "dingtalk.com",
        "evil.example",
        "oapi.dingtalk.com.evil.example",
        "evildingtalk.com",
        "oapi.dingtalk.com@evil.example",
        "evil.example@oapi.dingtalk.com",
        "evil.example\\@oapi.dingtalk.com",
        "evil.example%2F@oapi.dingtalk.com",
        "oapi.dingtalk.com%2eevil.example",
        "OAPI.DINGTALK.COM",
        "oapi.dingtalk.com.",
        "[::1]",
        "127.0.0.1",
        "oapi.dingtalk.com:443",
        "oapi.dingtalk.com:99999",
        "xn--dingtalk-9z3c.com",
        "оapi.dingtalk.com",  # Cyrillic о
    ]
)
WEBHOOKS = st.one_of(
    st.tuples(
        st.sampled_from(["https", "http", "javascript", "file", "ftp", "HTTPS", ""]),
        st.sampled_from(["://", ":/", ":///", ":\\\\", "//"]),
        WEBHOOK_HOSTS,
        st.sampled_from(["/robot/sendBySession?session=x", "", "/../x", "#@evil.example", "?@evil.example", "\\x"]),
    ).map("".join),
    TEXT,
)


@given(WEBHOOKS)
@example("https://evil.example\\@oapi.dingtalk.com/robot")
@example("http://oapi.dingtalk.com:99999/robot")
@example("https://oapi.dingtalk.com:abc/robot")
@example("https://oapi.dingtalk.com:0/robot")
def test_dingtalk_reply_addresses_stay_on_the_platform(url: str) -> None:
    """What the edge accepts as a ``sessionWebhook`` is, for the HTTP client that will post to it, DingTalk's."""
    if not webhook_on_platform(url, "https://api.dingtalk.com"):
        return
    host = urlsplit(url).hostname or ""
    assert host == "dingtalk.com" or host.endswith(".dingtalk.com")
    client = yarl.URL(url)  # the dispatcher's HTTP client can build it (no port out of range)…
    client_host = (client.host or "").rstrip(".").lower()
    assert client_host == "dingtalk.com" or client_host.endswith(".dingtalk.com"), (url, client_host)  # …and agrees
    assert client.port


DINGTALK_MESSAGES = st.fixed_dictionaries(
    {},
    optional={
        "msgId": anything_or("msg1", "9" * 300),
        "msgtype": anything_or("text", "picture", "file", "audio", "video", "richText", "markdown"),
        "text": st.one_of(st.fixed_dictionaries({}, optional={"content": anything_or(" 10月：完成")}), JSON_VALUES),
        "content": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "downloadCode": JSON_VALUES,
                    "recognition": JSON_VALUES,
                    "fileName": JSON_VALUES,
                    "richText": st.lists(JSON_VALUES, max_size=4),
                },
            ),
            JSON_VALUES,
        ),
        "createAt": anything_or(1700000000000, 10**30, -(10**30), "soon", 1e308),
        "conversationType": anything_or("1", "2", 2),
        "conversationId": anything_or("cid==", "c" * 200),
        "senderStaffId": anything_or("staff1", "s" * 129),
        "senderNick": JSON_VALUES,
        "sessionWebhook": st.one_of(WEBHOOKS, JSON_VALUES),
        "sessionWebhookExpiredTime": anything_or(1700005400000, 10**30, "later"),
    },
)


@given(DINGTALK_MESSAGES)
@example({"msgId": "m", "sessionWebhookExpiredTime": float("inf"), "createAt": float("-inf")})
@example({"msgId": "m", "createAt": float("nan")})
def test_dingtalk_bodies(data: dict[str, Any]) -> None:
    body_text = json.dumps(data, ensure_ascii=False)
    try:
        parsed = parse_dingtalk_message(
            parse_json_object(body_text), api_base="https://api.dingtalk.com", body_text=body_text
        )
    except Refused as refusal:
        assert_refusal(refusal)
        return
    assert parsed.platform == "dingtalk" and parsed.reply is not None
    url = parsed.reply.address["url"]
    assert url == "" or webhook_on_platform(url, "https://api.dingtalk.com")
    assert_storable(parsed)


@given(TEXT)
@example('{"msgtype": "text", "createAt": ' + "9" * 5000 + "}")
def test_dingtalk_any_body(body_text: str) -> None:
    try:
        data = parse_json_object(body_text)
        parsed = parse_dingtalk_message(data, api_base="https://api.dingtalk.com", body_text=body_text)
    except Refused as refusal:
        assert_refusal(refusal)
        return
    assert_storable(parsed)


@given(st.text(max_size=24), st.text(max_size=60), st.integers())
@example("1700000000000", callback_sign("appSecretTest", "1700000000001"), 1700000000000)
def test_dingtalk_signatures_from_anyone_else(timestamp: str, sign: str, now_ms: int) -> None:
    if sign == callback_sign("appSecretTest", timestamp):
        return
    with pytest.raises(Refused) as refused:
        verify_callback("appSecretTest", timestamp, sign, now_ms=now_ms)
    assert refused.value.status == 403


# ---- the sandbox -------------------------------------------------------------------------------------------

SANDBOX_BODIES = st.one_of(
    TEXT,
    st.fixed_dictionaries(
        {},
        optional={
            "person_id": anything_or(1, 0, -1, 2**31, 10**30, "1", 1.0, True),
            "group": anything_or(None, "", "甲群", "群" * 101),
            "text": anything_or("10月工作进展", "a\u0000b", ""),
            "message_id": anything_or(None, "", "m" * 129),
            "extra": JSON_VALUES,
        },
    ).map(lambda body: json.dumps(body, ensure_ascii=False)),
)


@given(SANDBOX_BODIES)
def test_sandbox_bodies(body: str) -> None:
    try:
        post = SandboxPost.model_validate_json(body)
    except ValidationError:
        return
    assert 0 < post.person_id < 2**31 and isinstance(post.text, str)
    assert post.group is None or 1 <= len(post.group) <= 100
    message = sandbox_message(post)
    assert message.sender_id == str(post.person_id)
    assert_storable(message)


# ---- the period marker -------------------------------------------------------------------------------------

DIGITS = st.sampled_from(["0123456789", "０１２３４５６７８９"])
CN_MONTHS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "元"]


def in_digits(number: int, table: str) -> str:
    return "".join(table[int(digit)] for digit in str(number))


@st.composite
def marked_texts(draw: st.DrawFn) -> tuple[str, int | None, int]:
    """A report opening with a period written in one of the ways people write it: (text, year, month)."""
    table = draw(DIGITS)
    year = draw(st.one_of(st.none(), st.integers(2000, 2999)))
    month = draw(st.integers(1, 12))
    month_text = draw(st.sampled_from([in_digits(month, table), in_digits(month, table).rjust(2, table[0])]))
    if year is None:
        if draw(st.booleans()):
            month_text = CN_MONTHS[month - 1]
        core = f"{month_text}月{draw(st.sampled_from(['', '份']))}"
    elif draw(st.booleans()):
        core = f"{in_digits(year, table)}年{month_text}月"
    else:
        core = f"{in_digits(year, table)}{draw(st.sampled_from(['-', '－', '.', '/', '／']))}{month_text}"
    opening, closing = draw(st.sampled_from([("", ""), ("【", "】"), ("[", "]"), ("（", "）"), ("〔", "〕")]))
    rest = draw(st.sampled_from(["工作进展：已完成。", "：一是……", " 补充：…", "", "\n已完成"]))
    return f"{opening}{core}{closing}{rest}", year, month


@given(marked_texts())
def test_period_markers_people_write_are_read(sample: tuple[str, int | None, int]) -> None:
    text, year, month = sample
    marker = leading_marker(text)
    assert marker is not None, text
    assert (marker.year, marker.month) == (year, month), text


@given(st.integers(1, 12), st.integers(1, 31), st.sampled_from(["日", "号", " 日", "日召开会议"]))
def test_a_date_is_not_a_period(month: int, day: int, tail: str) -> None:
    assert leading_marker(f"{month}月{day}{tail}") is None


@given(TEXT, st.integers(2000, 2998), st.integers(1, 12))
@example("99999999999999999999年1月", 2026, 11)
@example("13月", 2026, 11)
@example("2026-00", 2026, 11)
def test_period_parsing_of_anything(text: str, year: int, month: int) -> None:
    marker = leading_marker(text)
    if marker is not None:
        assert 1 <= marker.month <= 12
        assert marker.year is None or 2000 <= marker.year <= 2999
        assert 0 < marker.end <= len(text)
        resolved = marker.resolve(Period(year, month))
        assert 1 <= resolved.month <= 12
    try:
        period = parse_period(text, Period(year, month))
    except ValueError as error:
        assert "期别" in str(error)
    else:
        assert 1 <= period.month <= 12


# ---- the command matcher -----------------------------------------------------------------------------------

WORDS = sorted(REGISTRY)
SEPARATORS = st.sampled_from([" ", "\u3000", "：", ":", "，", ",", "。", "、", "\t", "\n", "  "])
HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "s": "ѕ", "i": "і", "统": "統", "计": "計", "知": "知"}


def fullwidth(text: str) -> str:
    return "".join(
        chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else "\u3000" if char == " " else char for char in text
    )


@given(st.sampled_from(WORDS), SEPARATORS, TEXT)
def test_commands_are_matched_in_every_width(word: str, separator: str, args: str) -> None:
    text = f"{word}{separator}{args}"
    found = match(text)
    assert found is not None, text
    spec, arguments = found
    assert spec is REGISTRY[word]
    assert arguments in normalize(text)
    assert match(fullwidth(text)) == found, text
    assert normalize(raw_arguments(text)) == arguments, text


@given(st.sampled_from(WORDS), st.integers(0, 10), TEXT)
def test_homoglyph_and_glued_command_words_are_not_commands(word: str, position: int, rest: str) -> None:
    """A look-alike letter, a zero-width character or a Chinese character glued on makes ordinary text."""
    index = position % len(word)
    if word[index] in HOMOGLYPHS and HOMOGLYPHS[word[index]] != word[index]:
        assert match(word[:index] + HOMOGLYPHS[word[index]] + word[index + 1 :] + " " + rest) is None
    if index > 0:
        assert match(word[:index] + "\u200b" + word[index:] + " " + rest) is None
    if not word.startswith("/"):
        assert match(word + "数据" + rest) is None


@given(TEXT)
def test_command_matching_of_anything(text: str) -> None:
    found = match(text)
    if found is not None:
        spec, arguments = found
        assert spec in REGISTRY.values()
        assert arguments == arguments.strip() and "  " not in arguments
    raw_arguments(text)


# ---- the roster's cell normalisers ---------------------------------------------------------------------------

CELLS = st.text(
    st.one_of(st.characters(codec="utf-8"), TRICKY, st.sampled_from(["王", "五", "\u3000", "A", "角"])), max_size=30
)
ANY_DIGITS = st.characters(categories=["Nd"])


@given(CELLS)
def test_clean_text(value: str) -> None:
    cleaned = clean_text(value)
    assert clean_text(cleaned) == cleaned
    assert cleaned == cleaned.strip()
    assert not re.search(r"\s\s", cleaned)
    assert unicodedata.normalize("NFKC", cleaned) == cleaned


@given(CELLS)
def test_headers_roles_and_groups(value: str) -> None:
    key = header_key(value)
    assert not re.search(r"\s", key) and key.lower() == key
    found = match_header(value)
    assert found is None or found[1] >= 0
    assert parse_role(value) in (None, *Role)
    names = split_groups(value)
    assert len(names) == len(set(names)) and all(names)
    assert not any(re.search(r"[、,，;；\s]", name) for name in names)


@given(
    st.text(st.one_of(ANY_DIGITS, st.sampled_from(list(" -()（）.+８６")), st.characters(codec="utf-8")), max_size=20)
)
@example("1380000000\u0661")  # an Arabic-Indic digit is not a mobile number's
@example("+86 138-0000-0001")
def test_mobile_numbers(value: str) -> None:
    mobile = normalize_mobile(value)
    assert mobile is None or re.fullmatch(r"1[3-9][0-9]{9}", mobile), (value, mobile)
    masked = mask_mobile(mobile)
    assert mobile is None or (masked[:3] == mobile[:3] and masked[-4:] == mobile[-4:] and "****" in masked)


@given(st.integers(3, 9), st.integers(0, 10**9 - 1), st.sampled_from(["", "+86", "0086", "86", "＋８６"]))
def test_written_mobile_numbers_are_recognised(second: int, rest: int, prefix: str) -> None:
    mobile = f"1{second}{rest:09d}"
    for written in (mobile, f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}", f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"):
        assert normalize_mobile(prefix + written) == mobile
        assert normalize_mobile(fullwidth(prefix + written)) == mobile


# ---- quote and inert -----------------------------------------------------------------------------------------

DANGEROUS = set("@<>[]()*_`#|~\\")
LIVE_SCHEME = re.compile(r"(?i)(?:https?|ftp|javascript|data|dingtalk|wxwork|weixin|mailto):")
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
WORDS_WITH_LINKS = st.lists(
    st.one_of(
        TEXT, st.sampled_from(["详见", "https://evil.example", "HTTP:", "javascript:", "mailto:", "<@all>", "@所有人"])
    ),
    max_size=8,
).map("".join)


@given(WORDS_WITH_LINKS, st.one_of(st.none(), st.integers(1, 80)))
@example("详见https://evil.example", None)
@example("[x](http://evil.example) <@all> <font>", 5)
def test_quote_leaves_nothing_live(text: str, max_chars: int | None) -> None:
    quoted = quote(text, max_chars=max_chars)
    assert not DANGEROUS & set(quoted), quoted
    assert not LIVE_SCHEME.search(quoted), quoted
    assert not INVISIBLE.search(quoted), quoted
    assert quote(quoted) == quoted
    if max_chars is not None:
        assert len(quoted) <= max_chars


@given(WORDS_WITH_LINKS)
def test_inert_leaves_nothing_live(text: str) -> None:
    made_inert = inert(text)
    assert not set("@<>[]`#|~\\*") & set(made_inert), made_inert
    assert not LIVE_SCHEME.search(made_inert), made_inert
    assert not INVISIBLE.search(made_inert), made_inert
    assert inert(made_inert) == made_inert


# ---- the splitter, through every dialect ---------------------------------------------------------------------

LIMITS = {
    "wecom_webhook": None,  # markdown 4096 or text 2048, by the payload's type
    "dingtalk_robot": DINGTALK_LIMIT,
    "dingtalk_session": DINGTALK_LIMIT,
    "feishu_bot": FEISHU_BODY_LIMIT - FEISHU_SIGN_RESERVE,
    "wecom_app": WECOM_APP_LIMIT,
    "wecom_response_url": RESPONSE_URL_LIMIT,
}
LINES = st.lists(
    st.one_of(
        st.text(
            st.one_of(
                st.characters(codec="utf-8", exclude_characters="\r\n"), TRICKY.filter(lambda c: c not in "\r\n")
            ),
            max_size=80,
        ),
        st.sampled_from(["**加粗**与正文", "- 条目", "- **要点**：说明", "各成员单位按照职责分工认真抓好落实。" * 30]),
        st.integers(200, 3000).map(lambda count: "不分行的连续文字" * (count // 8)),
        st.integers(100, 1500).map(lambda count: "😀" * count),
    ),
    max_size=25,
)
MENTIONS = st.lists(
    st.builds(
        Mention,
        name=st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), min_size=1, max_size=8),
        person_id=st.one_of(st.none(), st.integers(1, 10**6)),
        wecom_userid=st.one_of(st.none(), st.from_regex(r"\A[a-z][a-z0-9]{0,15}\Z")),
        dingtalk_userid=st.one_of(st.none(), st.from_regex(r"\A[a-z0-9]{1,16}\Z")),
        mobile=st.one_of(st.none(), st.from_regex(r"\A1[3-9][0-9]{9}\Z")),
    ),
    max_size=40,
)


def measured(channel: str, payload: dict[str, Any]) -> tuple[str, int]:
    if channel == "wecom_webhook":
        kind = payload["msgtype"]
        return payload[kind]["content"], WECOM_MARKDOWN_LIMIT if kind == "markdown" else WECOM_TEXT_LIMIT
    if channel in ("wecom_app", "wecom_response_url"):
        return payload[payload["msgtype"]]["content"], LIMITS[channel] or 0
    if channel.startswith("dingtalk"):
        part = payload.get("markdown") or payload["text"]
        return part.get("text", part.get("content", "")), DINGTALK_LIMIT
    return wire_json(payload).decode(), LIMITS[channel] or 0


@settings(max_examples=40)
@given(
    LINES,
    MENTIONS,
    st.booleans(),
    st.sampled_from(["markdown", "text"]),
    st.text(st.characters(codec="utf-8"), max_size=20),
    st.booleans(),
)
def test_every_part_fits_and_nothing_is_lost(
    lines: list[str], mentions: list[Mention], at_all: bool, message_format: str, title: str, late: bool
) -> None:
    message = OutboundMessage(
        title=title, body="\n".join(lines), mentions=mentions, at_all=at_all, format=message_format, late_post=late
    )
    expected = [(char, span.bold) for line in parse(message.body) for span in line.spans for char in span.text]
    wanted = unique_mentions(mentions)
    for channel in LIMITS:
        dialect = dialect_for(channel, message, keywords=("督办",))
        chunks = dialect.chunks()
        payloads = [dialect.compose(chunk) for chunk in chunks]  # what ``render`` does
        assert payloads, channel
        for payload in payloads:
            text, limit = measured(channel, payload)
            assert len(text.encode("utf-8")) <= limit, (channel, len(text.encode("utf-8")), limit)
            wire_json(payload).decode("utf-8")  # valid UTF-8 all the way
        if channel == "wecom_response_url":
            continue  # one request only: a reply that does not fit is shortened, visibly, instead of split
        shown = [
            (char, span.bold) for chunk in chunks for line in chunk.lines for span in line.spans for char in span.text
        ]
        assert shown == expected, channel
        assert [mention for chunk in chunks for mention in chunk.mentions] == wanted, channel
        assert [chunk.at_all for chunk in chunks] == [False] * (len(chunks) - 1) + [at_all], channel
