"""WeCom callbacks through the real endpoints: the official vectors, our own sealed messages, every refusal."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from sqlalchemy.exc import OperationalError

from bot.inbound.wecom_bot import strip_mention
from storage.db import Database
from tests.inbound_kit import (
    A_AES_KEY,
    A_CORP_ID,
    A_ECHO,
    A_ENCRYPT,
    A_MESSAGE_QUERY,
    A_TOKEN,
    A_VERIFY,
    B_AES_KEY,
    B_CORP_ID,
    B_ECHO,
    B_TOKEN,
    B_VERIFY,
    BOT_AES_KEY,
    BOT_TOKEN,
    app_xml,
    as_json,
    bot_message,
    bot_query,
    framed,
    inbound_app,
    inbox,
    raw_encrypt,
    seal,
    settings_for,
    sign,
    tamper,
)

Client = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def client(aiohttp_client: Client, db: Database) -> TestClient:
    return await aiohttp_client(inbound_app(settings_for(db.url), db))


# --- the official vectors ---------------------------------------------------------------------------------


async def test_vector_a_url_verification(client: TestClient, db: Database) -> None:
    response = await client.get("/wecom/app", params=A_VERIFY)
    assert response.status == 200
    assert await response.text() == A_ECHO
    assert await inbox(db) == []


async def test_vector_a_message_is_stored(client: TestClient, db: Database) -> None:
    response = await client.post("/wecom/app", params=A_MESSAGE_QUERY, data=app_xml(A_ENCRYPT))
    assert response.status == 200
    assert await response.text() == ""
    [row] = await inbox(db)
    assert (row.platform, row.channel, row.message_id) == ("wecom", "wecom_app", "1456453720")
    assert (row.sender_id, row.text, row.msgtype, row.chat_type) == ("ChenJiaShun", "你好", "text", "single")
    assert row.reply == {
        "channel": "wecom_app",
        "target": "ChenJiaShun",
        "rate_key": "wecom_app:ChenJiaShun",
        "address": {"touser": "ChenJiaShun"},
    }
    assert row.raw["AgentID"] == "1000002"
    assert row.state == "pending"


async def test_vector_b_url_verification(aiohttp_client: Client, db: Database) -> None:
    settings = settings_for(
        db.url, wecom={"app": {"corp_id": B_CORP_ID, "token": B_TOKEN, "encoding_aes_key": B_AES_KEY}}
    )
    client = await aiohttp_client(inbound_app(settings, db))
    response = await client.get("/wecom/app", params=B_VERIFY)
    assert response.status == 200
    assert await response.text() == B_ECHO


@pytest.mark.parametrize("vector", ["A", "B"])
async def test_tampered_vectors_are_refused(aiohttp_client: Client, db: Database, vector: str) -> None:
    if vector == "A":
        settings, query = settings_for(db.url), dict(A_VERIFY)
    else:
        wecom = {"app": {"corp_id": B_CORP_ID, "token": B_TOKEN, "encoding_aes_key": B_AES_KEY}}
        settings, query = settings_for(db.url, wecom=wecom), dict(B_VERIFY)
    client = await aiohttp_client(inbound_app(settings, db))
    query["msg_signature"] = tamper(query["msg_signature"])
    response = await client.get("/wecom/app", params=query)
    assert response.status == 403
    assert A_ECHO not in await response.text()


async def test_tampered_vector_message_is_refused_and_not_stored(client: TestClient, db: Database) -> None:
    query = {**A_MESSAGE_QUERY, "msg_signature": tamper(A_MESSAGE_QUERY["msg_signature"])}
    assert (await client.post("/wecom/app", params=query, data=app_xml(A_ENCRYPT))).status == 403
    altered = A_ENCRYPT[:10] + ("A" if A_ENCRYPT[10] != "A" else "B") + A_ENCRYPT[11:]
    assert (await client.post("/wecom/app", params=A_MESSAGE_QUERY, data=app_xml(altered))).status == 403
    assert await inbox(db) == []


async def test_unescaped_plus_in_echostr_is_restored(client: TestClient) -> None:
    query = "&".join(f"{key}={value}" for key, value in A_VERIFY.items())  # "+" left raw, decoded as a space
    response = await client.get(f"/wecom/app?{query}")
    assert response.status == 200
    assert await response.text() == A_ECHO


# --- freshness ---------------------------------------------------------------------------------------------


async def test_stale_timestamp_is_refused_when_the_window_is_on(aiohttp_client: Client, db: Database) -> None:
    client = await aiohttp_client(inbound_app(settings_for(db.url, wecom={"timestamp_window": 300}), db))
    with time_machine.travel(1476422779 + 301, tick=False):
        response = await client.post("/wecom/app", params=A_MESSAGE_QUERY, data=app_xml(A_ENCRYPT))
    assert response.status == 403
    assert await inbox(db) == []
    with time_machine.travel(1476422779 + 120, tick=False):
        response = await client.post("/wecom/app", params=A_MESSAGE_QUERY, data=app_xml(A_ENCRYPT))
    assert response.status == 200
    assert len(await inbox(db)) == 1


async def test_non_numeric_timestamp_is_refused_when_the_window_is_on(aiohttp_client: Client, db: Database) -> None:
    client = await aiohttp_client(inbound_app(settings_for(db.url, wecom={"timestamp_window": 300}), db))
    sealed = seal(A_TOKEN, A_AES_KEY, A_CORP_ID, "<xml><MsgType>text</MsgType></xml>", timestamp="soon")
    response = await client.post("/wecom/app", params=bot_query(sealed), data=app_xml(sealed["encrypt"]))
    assert response.status == 403


# --- the self-built app: our own messages -----------------------------------------------------------------


def app_plaintext(msgtype: str, fields: str, *, msgid: str = "7001", user: str = "zhangsan") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{A_CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>1763600000</CreateTime><MsgType><![CDATA[{msgtype}]]></MsgType>{fields}"
        f"<MsgId>{msgid}</MsgId><AgentID>1000002</AgentID></xml>"
    )


async def post_app(client: TestClient, plaintext: str, *, corp_id: str = A_CORP_ID) -> Any:
    sealed = seal(A_TOKEN, A_AES_KEY, corp_id, plaintext, timestamp="1763600000")
    return await client.post("/wecom/app", params=bot_query(sealed), data=app_xml(sealed["encrypt"]))


async def test_app_image_file_and_voice_keep_their_media_ids(client: TestClient, db: Database) -> None:
    image = "<PicUrl><![CDATA[https://wework.qpic.cn/x]]></PicUrl><MediaId><![CDATA[MEDIA_IMG]]></MediaId>"
    file = "<MediaId><![CDATA[MEDIA_FILE]]></MediaId><FileName><![CDATA[10月进展.docx]]></FileName>"
    voice = "<MediaId><![CDATA[MEDIA_VOICE]]></MediaId><Format><![CDATA[amr]]></Format>"
    for msgtype, fields, msgid in (("image", image, "1"), ("file", file, "2"), ("voice", voice, "3")):
        assert (await post_app(client, app_plaintext(msgtype, fields, msgid=msgid))).status == 200
    rows = {row.msgtype: row for row in await inbox(db)}
    assert rows["image"].attachments == [{"kind": "image", "media_id": "MEDIA_IMG", "url": "https://wework.qpic.cn/x"}]
    assert rows["file"].attachments == [{"kind": "file", "media_id": "MEDIA_FILE", "name": "10月进展.docx"}]
    assert rows["voice"].attachments == [{"kind": "voice", "media_id": "MEDIA_VOICE", "format": "amr"}]


async def test_app_events_are_deduplicated_on_sender_and_time(client: TestClient, db: Database) -> None:
    event = (
        f"<xml><ToUserName><![CDATA[{A_CORP_ID}]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>"
        "<CreateTime>1763600000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[enter_agent]]></Event><AgentID>1000002</AgentID></xml>"
    )
    assert (await post_app(client, event)).status == 200
    assert (await post_app(client, event)).status == 200  # WeCom's retry
    [row] = await inbox(db)
    assert (row.msgtype, row.message_id) == ("event", "event:zhangsan:1763600000:enter_agent")


async def test_app_retry_is_a_no_op(client: TestClient, db: Database) -> None:
    plaintext = app_plaintext("text", "<Content><![CDATA[10月工作进展]]></Content>")
    for _ in range(3):
        assert (await post_app(client, plaintext)).status == 200
    assert len(await inbox(db)) == 1


async def test_app_unknown_message_type_is_kept(client: TestClient, db: Database) -> None:
    assert (await post_app(client, app_plaintext("hologram", "<Beam>1</Beam>"))).status == 200
    [row] = await inbox(db)
    assert (row.msgtype, row.text, row.raw["Beam"]) == ("hologram", "", "1")


async def test_wrong_corp_id_in_the_plaintext_is_refused(client: TestClient, db: Database) -> None:
    plaintext = app_plaintext("text", "<Content>hi</Content>")
    assert (await post_app(client, plaintext, corp_id="ww_not_ours")).status == 403
    assert await inbox(db) == []


# --- the 智能机器人 ------------------------------------------------------------------------------------------


async def post_bot(client: TestClient, message: dict[str, Any] | str, *, receive_id: str = "") -> Any:
    plaintext = message if isinstance(message, str) else as_json(message)
    sealed = seal(BOT_TOKEN, BOT_AES_KEY, receive_id, plaintext, timestamp="1763600000")
    return await client.post("/wecom/bot", params=bot_query(sealed), json={"encrypt": sealed["encrypt"]})


async def test_bot_url_verification(client: TestClient) -> None:
    sealed = seal(BOT_TOKEN, BOT_AES_KEY, "", "8812341", timestamp="1763600000")
    response = await client.get("/wecom/bot", params={**bot_query(sealed), "echostr": sealed["encrypt"]})
    assert response.status == 200
    assert await response.text() == "8812341"


async def test_bot_group_message_is_stored_with_its_reply_route(client: TestClient, db: Database) -> None:
    response = await post_bot(client, bot_message("@督办助手\u200510月工作进展：完成招商项目3个。"))
    assert response.status == 200
    assert await response.text() == ""
    [row] = await inbox(db)
    assert (row.platform, row.channel, row.message_id, row.sender_id) == ("wecom", "wecom_bot", "msg-1", "zhangsan")
    assert (row.chat_id, row.chat_type, row.text) == ("wrchat01", "group", "10月工作进展：完成招商项目3个。")
    assert row.reply == {
        "channel": "wecom_response_url",
        "target": "wrchat01",
        "rate_key": "wecom_response_url:msg-1",
        "address": {"url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=msg-1"},
    }


async def test_bot_single_chat_keeps_its_text(client: TestClient, db: Database) -> None:
    message = bot_message("@所有人 不是提及机器人", chattype="single", chatid="")
    assert (await post_bot(client, message)).status == 200
    [row] = await inbox(db)
    assert (row.chat_type, row.chat_id, row.text) == ("single", "zhangsan", "@所有人 不是提及机器人")


async def test_bot_retry_is_a_no_op(client: TestClient, db: Database) -> None:
    for _ in range(3):
        assert (await post_bot(client, bot_message())).status == 200
    assert len(await inbox(db)) == 1


async def test_bot_images_files_and_mixed_keep_their_urls(client: TestClient, db: Database) -> None:
    image = bot_message(msgid="m-img", msgtype="image", image={"url": "https://x/img"})
    file = bot_message(msgid="m-file", msgtype="file", file={"url": "https://x/file"})
    mixed = bot_message(
        msgid="m-mixed",
        msgtype="mixed",
        mixed={
            "msg_item": [
                {"msgtype": "text", "text": {"content": "@督办助手 见附图"}},
                {"msgtype": "image", "image": {"url": "https://x/pic"}},
            ]
        },
    )
    for message in (image, file, mixed):
        assert (await post_bot(client, message)).status == 200
    rows = {row.message_id: row for row in await inbox(db)}
    assert rows["m-img"].attachments == [{"kind": "image", "url": "https://x/img"}]
    assert rows["m-file"].attachments == [{"kind": "file", "url": "https://x/file"}]
    assert (rows["m-mixed"].text, rows["m-mixed"].attachments) == (
        "见附图",
        [{"kind": "image", "url": "https://x/pic"}],
    )


async def test_bot_unknown_type_is_kept_and_a_stream_refresh_is_not(client: TestClient, db: Database) -> None:
    assert (await post_bot(client, bot_message(msgid="m-x", msgtype="hologram", hologram={"a": 1}))).status == 200
    assert (await post_bot(client, bot_message(msgid="m-s", msgtype="stream", stream={"id": "s1"}))).status == 200
    [row] = await inbox(db)
    assert (row.message_id, row.msgtype, row.raw["hologram"]) == ("m-x", "hologram", {"a": 1})


async def test_bot_message_without_msgid_is_deduplicated_on_its_content(client: TestClient, db: Database) -> None:
    message = bot_message()
    del message["msgid"]
    assert (await post_bot(client, message)).status == 200
    assert (await post_bot(client, message)).status == 200
    [row] = await inbox(db)
    assert row.message_id.startswith("sha256:")


async def test_bot_text_is_made_storable(client: TestClient, db: Database) -> None:
    text = "@督办助手 报送\x00内容 \ud83d 🎉 繁體字 " + "长" * 20000
    assert (await post_bot(client, json.dumps(bot_message(text)))).status == 200  # "\\ud83d" escaped, as JSON allows
    [row] = await inbox(db)
    assert "\x00" not in row.text
    assert row.text.startswith("报送内容 ") and "🎉 繁體字" in row.text and row.text.endswith("长" * 20000)


async def test_bot_wrong_receiveid_is_refused(client: TestClient, db: Database) -> None:
    assert (await post_bot(client, bot_message(), receive_id=A_CORP_ID)).status == 403
    assert await inbox(db) == []


async def test_bot_overlong_sender_is_refused(client: TestClient, db: Database) -> None:
    assert (await post_bot(client, bot_message(userid="u" * 200))).status == 400
    assert await inbox(db) == []


# --- refusals: nothing stored, never a 500 -----------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<xml><Encrypt>&lol3;</Encrypt></xml>"
)
XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>'


def signed(payload: str, token: str = A_TOKEN) -> dict[str, str]:
    return {"msg_signature": sign(token, "1763600000", "n1", payload), "timestamp": "1763600000", "nonce": "n1"}


@pytest.mark.parametrize(
    ("name", "params", "body", "status"),
    [
        ("no signature", {}, app_xml(A_ENCRYPT), 403),
        ("no nonce", {k: v for k, v in A_MESSAGE_QUERY.items() if k != "nonce"}, app_xml(A_ENCRYPT), 403),
        ("malformed XML", A_MESSAGE_QUERY, "<xml><Encrypt>abc</xml>", 400),
        ("not XML", A_MESSAGE_QUERY, "hello", 400),
        ("empty body", A_MESSAGE_QUERY, "", 400),
        ("no Encrypt", A_MESSAGE_QUERY, "<xml><ToUserName>x</ToUserName></xml>", 400),
        ("billion laughs", A_MESSAGE_QUERY, BILLION_LAUGHS, 400),
        ("external entity", A_MESSAGE_QUERY, XXE, 400),
        ("not UTF-8", A_MESSAGE_QUERY, "<xml><Encrypt>é</Encrypt></xml>".encode("latin-1"), 400),
        ("invalid base64", signed("not*base64!"), app_xml("not*base64!"), 400),
        ("bad base64 padding", signed("QUJD="), app_xml("QUJD="), 400),
        (
            "wrong length",
            signed(base64.b64encode(b"x" * 40).decode()),
            app_xml(base64.b64encode(b"x" * 40).decode()),
            400,
        ),
        ("one block", signed(base64.b64encode(b"x" * 16).decode()), app_xml(base64.b64encode(b"x" * 16).decode()), 400),
    ],
)
async def test_app_refusals(
    client: TestClient, db: Database, name: str, params: dict[str, str], body: str | bytes, status: int
) -> None:
    response = await client.post("/wecom/app", params=params, data=body, headers={"Content-Type": "text/xml"})
    assert response.status == status, name
    assert await inbox(db) == []


@pytest.mark.parametrize(
    ("name", "plaintext", "status"),
    [
        ("entity in the decrypted XML", framed(XXE.encode(), A_CORP_ID.encode()), 400),
        ("decrypted text not UTF-8", framed(b"<xml>\xff\xfe</xml>", A_CORP_ID.encode()), 400),
        ("receiveid not UTF-8", framed(b"<xml/>", b"\xff\xfe"), 400),
        ("length prefix past the end: no receiveid left", b"r" * 16 + b"\x7f\xff\xff\xff" + b"<xml/>", 403),
        ("no length prefix", b"r" * 10, 400),
        ("wrong receiveid", framed(b"<xml><MsgType>text</MsgType></xml>", b"ww_other"), 403),
    ],
)
async def test_signed_garbage_inside_the_ciphertext(
    client: TestClient, db: Database, name: str, plaintext: bytes, status: int
) -> None:
    encrypt = raw_encrypt(A_AES_KEY, plaintext)
    response = await client.post("/wecom/app", params=signed(encrypt), data=app_xml(encrypt))
    assert response.status == status, name
    assert await inbox(db) == []


async def test_zero_padding_byte_is_refused(client: TestClient, db: Database) -> None:
    # A final byte of 0 is no valid PKCS#7 padding: wechatpy would slice the plaintext to nothing.
    encrypt = raw_encrypt(A_AES_KEY, framed(b"<xml/>", A_CORP_ID.encode()).ljust(64, b"\x00"), pad=False)
    response = await client.post("/wecom/app", params=signed(encrypt), data=app_xml(encrypt))
    assert response.status == 400
    assert await inbox(db) == []


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("malformed JSON", b'{"encrypt": ', 400),
        ("a JSON array", b"[1, 2]", 400),
        ("no encrypt", b'{"other": 1}', 400),
        ("encrypt not a string", b'{"encrypt": {"a": 1}}', 400),
        ("not UTF-8", b'{"encrypt": "\xff"}', 400),
        ("deeply nested", b"[" * 100000 + b"]" * 100000, 400),
    ],
)
async def test_bot_refusals(client: TestClient, db: Database, name: str, body: bytes, status: int) -> None:
    params = signed("whatever", BOT_TOKEN)
    response = await client.post("/wecom/bot", params=params, data=body, headers={"Content-Type": "application/json"})
    assert response.status == status, name
    assert await inbox(db) == []


async def test_bot_decrypted_text_that_is_not_json_is_refused(client: TestClient, db: Database) -> None:
    assert (await post_bot(client, "<xml>not json</xml>")).status == 400
    assert (await post_bot(client, '["a list"]')).status == 400
    assert await inbox(db) == []


async def test_bot_bad_signature_is_refused(client: TestClient, db: Database) -> None:
    sealed = seal(BOT_TOKEN, BOT_AES_KEY, "", as_json(bot_message()), timestamp="1763600000")
    query = {**bot_query(sealed), "msg_signature": tamper(sealed["msg_signature"])}
    assert (await client.post("/wecom/bot", params=query, json={"encrypt": sealed["encrypt"]})).status == 403
    assert await inbox(db) == []


async def test_body_over_the_limit_is_413(client: TestClient, db: Database) -> None:
    huge = app_xml("A" * (256 * 1024))
    response = await client.post("/wecom/app", params=A_MESSAGE_QUERY, data=huge)
    assert response.status == 413
    chunked = await client.post("/wecom/bot", params=signed("x", BOT_TOKEN), data=_chunks(300 * 1024))
    assert chunked.status == 413
    assert await inbox(db) == []


async def _chunks(size: int) -> Any:
    for _ in range(size // 1024):
        yield b"x" * 1024


async def test_form_content_type_is_415(client: TestClient, db: Database) -> None:
    response = await client.post("/wecom/bot", params=signed("x", BOT_TOKEN), data={"encrypt": "x"})
    assert response.status == 415
    assert await inbox(db) == []


async def test_get_without_echostr_is_refused(client: TestClient) -> None:
    params = {k: v for k, v in A_VERIFY.items() if k != "echostr"}
    assert (await client.get("/wecom/app", params=params)).status == 403


async def test_a_database_that_cannot_store_answers_503(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unavailable(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, OSError("disk gone"))

    monkeypatch.setattr("bot.inbound.edge.store_now", unavailable)
    response = await client.post("/wecom/app", params=A_MESSAGE_QUERY, data=app_xml(A_ENCRYPT))
    assert response.status == 503
    assert await inbox(db) == []


# --- channel off -------------------------------------------------------------------------------------------


async def test_unconfigured_channels_answer_404(aiohttp_client: Client, db: Database, caplog: Any) -> None:
    caplog.set_level("INFO")
    settings = settings_for(
        db.url, wecom={"app": {}, "bot": {}}, dingtalk={"app_secret": ""}, sandbox={"enabled": False}
    )
    client = await aiohttp_client(inbound_app(settings, db))
    for path in ("/wecom/app", "/wecom/bot"):
        assert (await client.get(path, params=A_VERIFY)).status == 404
        assert (await client.post(path, params=A_MESSAGE_QUERY, data=app_xml(A_ENCRYPT))).status == 404
    assert (await client.post("/dingtalk/bot", json={})).status == 404
    assert (await client.post("/sandbox/messages", json={})).status == 404
    log = caplog.text
    assert "channel wecom_app is off" in log and "DUBAN_WECOM__APP__TOKEN" in log
    assert "channel wecom_bot is off" in log and "DUBAN_WECOM__BOT__ENCODING_AES_KEY" in log
    assert "channel dingtalk_bot is off" in log and "DUBAN_DINGTALK__APP_SECRET" in log
    assert await inbox(db) == []


async def test_logs_name_channel_and_id_but_never_secrets_or_text(client: TestClient, caplog: Any) -> None:
    caplog.set_level("DEBUG")
    await post_bot(client, bot_message("@督办助手 机密的报送正文"))
    await client.post("/wecom/app", params={**A_MESSAGE_QUERY, "msg_signature": "0" * 40}, data=app_xml(A_ENCRYPT))
    log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("bot", "aiohttp")))
    assert "wecom_bot msg-1" in log
    for secret in ("机密的报送正文", BOT_TOKEN, BOT_AES_KEY, A_TOKEN, A_AES_KEY, A_ENCRYPT[:20]):
        assert secret not in log


def test_strip_mention() -> None:
    assert strip_mention("@督办助手 10月") == "10月"
    assert strip_mention(" @督办助手\u200510月") == "10月"
    assert strip_mention("10月 @督办助手") == "10月 @督办助手"
