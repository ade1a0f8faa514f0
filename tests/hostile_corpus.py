"""Hostile requests for every inbound endpoint, each with the answer it must get and what it may store.

Each builder returns the corpus of one endpoint. Requests are built at call time with fresh timestamps, so
that a signed request fails for the one reason its case names. A case that a signature vouches for (a
platform's own quirks, injection text in a properly signed message) is accepted and stores its row; every
other case is refused and stores nothing.
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from bot.metrics import CallbackResult
from tests.inbound_kit import (
    A_AES_KEY,
    A_CORP_ID,
    A_TOKEN,
    BOT_AES_KEY,
    BOT_TOKEN,
    app_xml,
    as_json,
    bot_message,
    dingtalk_headers,
    dingtalk_message,
    framed,
    raw_encrypt,
    seal,
    sign,
    tamper,
)

OTHER_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"  # a valid key that is not the endpoint's
MAX_BODY = 256 * 1024  # ``[server] max_body_bytes`` by default
JSON = {"Content-Type": "application/json"}
XML = {"Content-Type": "text/xml"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MULTIPART = {"Content-Type": "multipart/form-data; boundary=xyz"}

# Report texts that try to inject: SQL, mentions of everyone, markup, links, bidi and zero-width tricks.
INJECTIONS = (
    "'; DROP TABLE submission;--",
    "10月工作进展：<@all> 请大家注意 <@zhaomin>",
    '10月工作进展：<font color="warning">紧急</font> **加粗** # 标题',
    "10月工作进展：详见[这里](http://evil.example/phish) 与 https://evil.example/x",
    "10月工作进展：@所有人 @13900000000 @zhaomin 请查收",
    '10月工作进展：<at user_id="all">所有人</at> <a href="javascript:alert(1)">x</a>',
    "10月工作进展：\u202eevil\u202c \u200b零宽\u200d字符 \u2066隔离\u2069",
    "10月工作进展：![img](https://evil.example/p.png) `code` ~~删~~ | 表 | > 引用",
    "10月工作进展：dingtalk://dingtalkclient/page/link?url=x wxwork://message mailto:a@b.c",
    "10月工作进展：详见https://evil.example/phish，或访问http://evil.example/x、_ftp://evil.example",
    "10月工作进展：\u061c阿拉伯字母标记\u2060词连接\ufeff零宽不换行\u2064不可见加号",
    # the private-use marks that keep the office's own links working, forged around a liaison's address
    "10月工作进展：详见\ue000https://evil.example/phish\ue001，或\ue000http://evil.example/x",
)


def _deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


HUGE_INT = "9" * 5000  # beyond Python's 4,300-digit limit for int(str)
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">' for i in range(9))
    + "]><xml><Encrypt>&lol8;</Encrypt></xml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>'
)
PARAMETER_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>'
    "<xml><Encrypt>x</Encrypt></xml>"
)


@dataclass(frozen=True)
class Hostile:
    """One request and its expected answer.

    ``status``: the statuses that are right (one, unless the platform's crypto leaves two honest readings).
    ``stores``: inbox rows it must add. ``results``: how the edge may count it (empty: answered before the
    edge, e.g. 405 by the router). ``text``: the stored text, for an accepted case that carries one.
    """

    name: str
    method: str
    status: frozenset[int]
    params: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    stores: int = 0
    results: frozenset[CallbackResult] = frozenset()
    text: str | None = None
    chunked: bool = False
    remote: str | None = None  # the sandbox: pose as a peer at this address


def case(
    name: str,
    method: str,
    status: int | Sequence[int],
    *,
    result: CallbackResult | frozenset[CallbackResult] | None,
    params: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    **extra: Any,
) -> Hostile:
    statuses = frozenset([status] if isinstance(status, int) else status)
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    results = frozenset() if result is None else frozenset([result]) if isinstance(result, str) else result
    return Hostile(name, method, statuses, pairs, results=results, **extra)


def signed_payload_result(status: int | Sequence[int]) -> frozenset[CallbackResult]:
    """A signed but malformed ciphertext is a 400, or a 403 where the crypto reads it as a wrong receiveid."""
    statuses = {status} if isinstance(status, int) else set(status)
    by_status = {
        200: CallbackResult.VERIFIED,
        400: CallbackResult.BAD_REQUEST,
        403: CallbackResult.REFUSED_SIGNATURE,
    }
    return frozenset(by_status[code] for code in statuses)


def now_s() -> str:
    return str(int(time.time()))


def now_ms() -> str:
    return str(int(time.time() * 1000))


def signed(token: str, payload: str, *, timestamp: str | None = None, nonce: str = "n1") -> dict[str, str]:
    """The query that signs ``payload`` as the platform would (``msg_signature``, ``timestamp``, ``nonce``)."""
    timestamp = timestamp if timestamp is not None else now_s()
    return {"msg_signature": sign(token, timestamp, nonce, payload), "timestamp": timestamp, "nonce": nonce}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# ---- WeCom: what both endpoints share -------------------------------------------------------------------


@dataclass(frozen=True)
class WecomKeys:
    token: str
    aes_key: str
    receive_id: str
    wrong_receive_id: str

    def seal(self, plaintext: str, *, timestamp: str | None = None, aes_key: str | None = None) -> dict[str, str]:
        return seal(self.token, aes_key or self.aes_key, self.receive_id, plaintext, timestamp=timestamp or now_s())

    def seal_for(self, receive_id: str, plaintext: str) -> dict[str, str]:
        return seal(self.token, self.aes_key, receive_id, plaintext, timestamp=now_s())

    def raw(self, plaintext: bytes, *, pad: bool = True) -> str:
        return raw_encrypt(self.aes_key, plaintext, pad=pad)


BOT_KEYS = WecomKeys(BOT_TOKEN, BOT_AES_KEY, "", A_CORP_ID)
APP_KEYS = WecomKeys(A_TOKEN, A_AES_KEY, A_CORP_ID, "wwsomeoneelse")


def _query(sealed: Mapping[str, str]) -> dict[str, str]:
    return {key: sealed[key] for key in ("msg_signature", "timestamp", "nonce")}


def _signed_payloads(keys: WecomKeys, *, echo: bool) -> list[tuple[str, str, int | Sequence[int]]]:
    """Ciphertexts that are properly signed but malformed inside: (name, payload, statuses).

    A length prefix that overshoots leaves an empty receiveid behind the content: the 智能机器人's own (``""``),
    so its URL check echoes the content (only the holder of the token and key can make such a request) and a
    message is refused for not being JSON; the app's corp id does not match.
    """
    good = keys.seal("1288432023552776189")["encrypt"]
    wrong_length = keys.raw(framed(b"x" * 5, keys.receive_id.encode()))[:-8]
    unpadded = framed(b"x" * (28 - len(keys.receive_id) % 16), keys.receive_id.encode())
    overshoot: int | Sequence[int] = 403 if keys.receive_id else 200 if echo else 400
    return [
        ("signed_payload_not_base64", "%%%not*base64%%%", 400),
        ("signed_payload_with_unicode", "密文" + good[2:], 400),
        ("signed_payload_too_short", b64(b"x" * 16), 400),
        ("signed_payload_wrong_block_length", b64(b"x" * 40), 400),
        ("signed_payload_truncated", good[:-4], 400),
        ("signed_payload_wrong_length_after_cut", wrong_length, 400),
        ("signed_payload_wrong_key", keys.seal("1288432023552776189", aes_key=OTHER_AES_KEY)["encrypt"], (400, 403)),
        ("signed_payload_wrong_receiveid", keys.seal_for(keys.wrong_receive_id, "12884")["encrypt"], 403),
        ("signed_payload_without_padding", keys.raw(unpadded, pad=False), (400, 403)),
        ("signed_payload_length_prefix_overshoots", keys.raw(b"r" * 16 + struct.pack(">I", 10**6) + b"42"), overshoot),
        ("signed_payload_empty_plaintext", keys.raw(b""), (400, 403)),
        ("signed_payload_not_utf8", keys.raw(framed("进展".encode("gbk"), keys.receive_id.encode())), (400, 403)),
    ]


def verification_corpus(keys: WecomKeys) -> list[Hostile]:
    """``GET`` (the callback-address check): at least 30 ways to get an echo without the token, all refused."""
    sealed = keys.seal("1288432023552776189")
    echostr = sealed["encrypt"]
    query = {**_query(sealed), "echostr": echostr}
    other = keys.seal("9999")
    sig = CallbackResult.REFUSED_SIGNATURE
    stale = CallbackResult.REFUSED_STALE
    cases = [
        case("no_parameters", "GET", 403, result=sig),
        case("no_signature", "GET", 403, result=sig, params={k: v for k, v in query.items() if k != "msg_signature"}),
        case("no_timestamp", "GET", 403, result=sig, params={k: v for k, v in query.items() if k != "timestamp"}),
        case("no_nonce", "GET", 403, result=sig, params={k: v for k, v in query.items() if k != "nonce"}),
        case("no_echostr", "GET", 403, result=sig, params=_query(sealed)),
        case("empty_signature", "GET", 403, result=sig, params={**query, "msg_signature": ""}),
        case("forged_signature", "GET", 403, result=sig, params={**query, "msg_signature": secrets.token_hex(20)}),
        case(
            "tampered_signature",
            "GET",
            403,
            result=sig,
            params={**query, "msg_signature": tamper(sealed["msg_signature"])},
        ),
        case(
            "uppercase_signature",
            "GET",
            403,
            result=sig,
            params={**query, "msg_signature": sealed["msg_signature"].upper()},
        ),
        case(
            "signature_with_space",
            "GET",
            403,
            result=sig,
            params={**query, "msg_signature": sealed["msg_signature"] + " "},
        ),
        case("non_ascii_signature", "GET", 403, result=sig, params={**query, "msg_signature": "签名" * 20}),
        case("replayed_signature_other_echostr", "GET", 403, result=sig, params={**query, "echostr": other["encrypt"]}),
        case("replayed_signature_other_nonce", "GET", 403, result=sig, params={**query, "nonce": "n2"}),
        case(
            "replayed_signature_other_timestamp",
            "GET",
            403,
            result=sig,
            params={**query, "timestamp": str(int(query["timestamp"]) + 1)},
        ),
        case(
            "polluted_signature_forged_first",
            "GET",
            403,
            result=sig,
            params=[("msg_signature", "0" * 40), *query.items()],
        ),
        case(
            "stale_timestamp",
            "GET",
            403,
            result=stale,
            params={**signed(keys.token, echostr, timestamp=str(int(time.time()) - 3600)), "echostr": echostr},
        ),
        case(
            "future_timestamp",
            "GET",
            403,
            result=stale,
            params={**signed(keys.token, echostr, timestamp=str(int(time.time()) + 3600)), "echostr": echostr},
        ),
        case(
            "timestamp_in_milliseconds",
            "GET",
            403,
            result=stale,
            params={**signed(keys.token, echostr, timestamp=now_ms()), "echostr": echostr},
        ),
        case(
            "non_numeric_timestamp",
            "GET",
            403,
            result=stale,
            params={**signed(keys.token, echostr, timestamp="yesterday"), "echostr": echostr},
        ),
        case(
            "negative_timestamp",
            "GET",
            403,
            result=stale,
            params={**signed(keys.token, echostr, timestamp="-1"), "echostr": echostr},
        ),
        case(
            "huge_timestamp",
            "GET",
            403,
            result=stale,
            params={**signed(keys.token, echostr, timestamp="9" * 40), "echostr": echostr},
        ),
        case(
            "exponent_timestamp",
            "GET",
            403,
            result=stale,
            params={**signed(keys.token, echostr, timestamp="1e10"), "echostr": echostr},
        ),
        case(
            "forged_fullwidth_timestamp", "GET", 403, result=sig, params={**query, "timestamp": "１７６３６０００００"}
        ),
        case(
            "nul_in_echostr", "GET", 403, result=sig, params={**query, "echostr": echostr[:10] + "\x00" + echostr[10:]}
        ),
        case("head_method", "HEAD", 405, result=None, params=query),
        case("put_method", "PUT", 405, result=None, params=query),
        case("delete_method", "DELETE", 405, result=None, params=query),
        case("options_method", "OPTIONS", 405, result=None, params=query),
        case(
            "get_with_a_message_body",
            "GET",
            403,
            result=sig,
            params=_query(sealed),
            body=b'{"encrypt":"x"}',
            headers=JSON,
        ),
        case("long_nonce_unsigned", "GET", 403, result=sig, params={**query, "nonce": "n" * 4000}),
    ]
    for name, payload, status in _signed_payloads(keys, echo=True):
        result = signed_payload_result(status)
        cases.append(
            case(name, "GET", status, result=result, params={**signed(keys.token, payload), "echostr": payload})
        )
    return cases


# ---- WeCom 智能机器人 (JSON) ------------------------------------------------------------------------------


def bot_post(text: str, **fields: Any) -> tuple[dict[str, str], bytes]:
    """A properly signed and encrypted 1:1 message: (query, body)."""
    fields.setdefault("msgid", f"h-{secrets.token_hex(6)}")
    fields.setdefault("chattype", "single")
    sealed = BOT_KEYS.seal(as_json(bot_message(text, **fields)))
    return _query(sealed), as_json({"encrypt": sealed["encrypt"]}).encode()


def bot_sealed_body(plaintext: str) -> tuple[dict[str, str], bytes]:
    sealed = BOT_KEYS.seal(plaintext)
    return _query(sealed), as_json({"encrypt": sealed["encrypt"]}).encode()


def wecom_bot_post_corpus(replay: tuple[dict[str, str], bytes]) -> list[Hostile]:
    """``POST /wecom/bot``; ``replay`` is a request already stored (sent again, it must store nothing)."""
    query, body = bot_post("10月工作进展：正常。")
    encrypt = json.loads(body)["encrypt"]
    _, other_body = bot_post("10月工作进展：另一条。")
    sig, stale, bad = CallbackResult.REFUSED_SIGNATURE, CallbackResult.REFUSED_STALE, CallbackResult.BAD_REQUEST

    def with_body(raw: bytes, headers: Mapping[str, str] = JSON) -> dict[str, Any]:
        return {"params": signed(BOT_TOKEN, encrypt), "body": raw, "headers": headers}

    cases = [
        case("no_query", "POST", 403, result=sig, body=body, headers=JSON),
        case(
            "forged_signature",
            "POST",
            403,
            result=sig,
            params={**query, "msg_signature": secrets.token_hex(20)},
            body=body,
            headers=JSON,
        ),
        case("replayed_signature_changed_body", "POST", 403, result=sig, params=query, body=other_body, headers=JSON),
        case(
            "replayed_signature_other_nonce",
            "POST",
            403,
            result=sig,
            params={**query, "nonce": "zz"},
            body=body,
            headers=JSON,
        ),
        case(
            "stale_timestamp",
            "POST",
            403,
            result=stale,
            params=signed(BOT_TOKEN, encrypt, timestamp=str(int(time.time()) - 7200)),
            body=body,
            headers=JSON,
        ),
        case(
            "future_timestamp",
            "POST",
            403,
            result=stale,
            params=signed(BOT_TOKEN, encrypt, timestamp=str(int(time.time()) + 7200)),
            body=body,
            headers=JSON,
        ),
        case(
            "no_nonce",
            "POST",
            403,
            result=sig,
            params={k: v for k, v in query.items() if k != "nonce"},
            body=body,
            headers=JSON,
        ),
        case(
            "replay_of_a_stored_message",
            "POST",
            200,
            result=CallbackResult.DUPLICATE,
            params=replay[0],
            body=replay[1],
            headers=JSON,
        ),
        case("empty_body", "POST", 400, result=bad, **with_body(b"")),
        case("not_json", "POST", 400, result=bad, **with_body(b"encrypt=abc")),
        case("json_array", "POST", 400, result=bad, **with_body(as_json([encrypt]).encode())),
        case("json_string", "POST", 400, result=bad, **with_body(as_json(encrypt).encode())),
        case("encrypt_is_an_object", "POST", 400, result=bad, **with_body(b'{"encrypt": {"a": 1}}')),
        case("encrypt_is_a_number", "POST", 403, result=sig, **with_body(b'{"encrypt": 12345}')),
        case("no_encrypt_field", "POST", 400, result=bad, **with_body(b'{"Encrypt": "x"}')),
        case("truncated_body", "POST", 400, result=bad, **with_body(body[: len(body) // 2])),
        case("oversized_body", "POST", 413, result=CallbackResult.TOO_LARGE, **with_body(b" " * (MAX_BODY + 1) + body)),
        case(
            "oversized_chunked_body",
            "POST",
            413,
            result=CallbackResult.TOO_LARGE,
            chunked=True,
            **with_body(b" " * (MAX_BODY + 1) + body),
        ),
        case("form_content_type", "POST", 415, result=CallbackResult.UNSUPPORTED_TYPE, **with_body(body, FORM)),
        case(
            "multipart_content_type", "POST", 415, result=CallbackResult.UNSUPPORTED_TYPE, **with_body(body, MULTIPART)
        ),
        case("not_utf8", "POST", 400, result=bad, **with_body('{"encrypt": "进展"}'.encode("gbk"))),
        case("utf8_bom", "POST", 400, result=bad, **with_body(b"\xef\xbb\xbf" + body)),
        case("nul_bytes", "POST", 400, result=bad, **with_body(body[:5] + b"\x00" + body[5:])),
        case(
            "json_bomb_deep_nesting",
            "POST",
            400,
            result=bad,
            **with_body(f'{{"encrypt": "{encrypt}", "x": {_deep_json()}}}'.encode()),
        ),
        case(
            "json_huge_integer",
            "POST",
            400,
            result=bad,
            **with_body(f'{{"encrypt": "{encrypt}", "x": {HUGE_INT}}}'.encode()),
        ),
        case(
            "duplicate_keys_forged_last",
            "POST",
            403,
            result=sig,
            **with_body(f'{{"encrypt": "{encrypt}", "encrypt": "AAAA"}}'.encode()),
        ),
        case(
            "verification_params_on_post", "POST", 403, result=sig, params={"echostr": encrypt}, body=body, headers=JSON
        ),
        case("patch_method", "PATCH", 405, result=None, params=query, body=body, headers=JSON),
    ]
    for name, payload, status in _signed_payloads(BOT_KEYS, echo=False):
        result = signed_payload_result(status)
        raw = as_json({"encrypt": payload}).encode()
        cases.append(
            case(name, "POST", status, result=result, params=signed(BOT_TOKEN, payload), body=raw, headers=JSON)
        )
    for name, plaintext in [
        ("decrypted_not_json", "<xml>not json</xml>"),
        ("decrypted_json_array", '[{"msgid": "x"}]'),
        ("decrypted_json_bomb", _deep_json(20_000)),
        ("decrypted_huge_integer", f'{{"msgid": {HUGE_INT}, "msgtype": "text"}}'),
        ("decrypted_overlong_sender", as_json(bot_message("x", msgid="h-long", userid="u" * 200))),
        ("decrypted_overlong_chat", as_json(bot_message("x", msgid="h-chat", chatid="c" * 200))),
    ]:
        params, raw = bot_sealed_body(plaintext)
        cases.append(case(name, "POST", 400, result=bad, params=params, body=raw, headers=JSON))
    params, raw = bot_sealed_body(as_json({"msgid": "s1", "msgtype": "stream", "stream": {"id": "x"}}))
    cases.append(
        case(
            "stream_refresh_stores_nothing",
            "POST",
            200,
            result=CallbackResult.IGNORED,
            params=params,
            body=raw,
            headers=JSON,
        )
    )
    # Signed by the token holder: accepted, and stored as written (the handlers and renderer defuse it).
    for number, text in enumerate(INJECTIONS[:3]):
        params, raw = bot_post(text)
        cases.append(
            case(
                f"signed_injection_{number}",
                "POST",
                200,
                result=CallbackResult.STORED,
                params=params,
                body=raw,
                headers=JSON,
                stores=1,
                text=text,
            )
        )
    params, raw = bot_post("10月工作进展：正常。", msgid="9" * 400)
    cases.append(
        case(
            "signed_huge_msgid",
            "POST",
            200,
            result=CallbackResult.STORED,
            params=params,
            body=raw,
            headers=JSON,
            stores=1,
        )
    )
    params, raw = bot_post("进展", msgid="h-plain-text-type")
    cases.append(
        case(
            "signed_with_text_plain_type",
            "POST",
            200,
            result=CallbackResult.STORED,
            params=params,
            body=raw,
            headers={"Content-Type": "text/plain"},
            stores=1,
        )
    )
    return cases


# ---- WeCom self-built app (XML) -------------------------------------------------------------------------


def app_plaintext(content: str, *, msgid: str | None = None, sender: str = "zhangwei", create_time: str = "") -> str:
    return (
        f"<xml><ToUserName>{A_CORP_ID}</ToUserName><FromUserName>{escape(sender)}</FromUserName>"
        f"<CreateTime>{create_time or now_s()}</CreateTime><MsgType>text</MsgType>"
        f"<Content>{escape(content)}</Content><MsgId>{msgid or secrets.randbelow(10**12)}</MsgId>"
        "<AgentID>1000002</AgentID></xml>"
    )


def app_post(plaintext: str) -> tuple[dict[str, str], bytes]:
    sealed = APP_KEYS.seal(plaintext)
    return _query(sealed), app_xml(sealed["encrypt"]).encode()


def wecom_app_post_corpus(replay: tuple[dict[str, str], bytes]) -> list[Hostile]:
    query, body = app_post(app_plaintext("10月工作进展：正常。"))
    encrypt = body.decode().split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    _, other_body = app_post(app_plaintext("10月工作进展：另一条。"))
    sig, stale, bad = CallbackResult.REFUSED_SIGNATURE, CallbackResult.REFUSED_STALE, CallbackResult.BAD_REQUEST

    def with_body(raw: str | bytes, headers: Mapping[str, str] = XML) -> dict[str, Any]:
        data = raw.encode() if isinstance(raw, str) else raw
        return {"params": signed(A_TOKEN, encrypt), "body": data, "headers": headers}

    cases = [
        case("no_query", "POST", 403, result=sig, body=body, headers=XML),
        case(
            "forged_signature",
            "POST",
            403,
            result=sig,
            params={**query, "msg_signature": "f" * 40},
            body=body,
            headers=XML,
        ),
        case("replayed_signature_changed_body", "POST", 403, result=sig, params=query, body=other_body, headers=XML),
        case(
            "stale_timestamp",
            "POST",
            403,
            result=stale,
            params=signed(A_TOKEN, encrypt, timestamp=str(int(time.time()) - 7200)),
            body=body,
            headers=XML,
        ),
        case(
            "future_timestamp",
            "POST",
            403,
            result=stale,
            params=signed(A_TOKEN, encrypt, timestamp=str(int(time.time()) + 7200)),
            body=body,
            headers=XML,
        ),
        case(
            "no_timestamp",
            "POST",
            403,
            result=sig,
            params={k: v for k, v in query.items() if k != "timestamp"},
            body=body,
            headers=XML,
        ),
        case(
            "replay_of_a_stored_message",
            "POST",
            200,
            result=CallbackResult.DUPLICATE,
            params=replay[0],
            body=replay[1],
            headers=XML,
        ),
        case("empty_body", "POST", 400, result=bad, **with_body(b"")),
        case("not_xml", "POST", 400, result=bad, **with_body('{"Encrypt": "x"}')),
        case("truncated_xml", "POST", 400, result=bad, **with_body(body[: len(body) // 2])),
        case("no_xml_root", "POST", 400, result=bad, **with_body(f"<root><Encrypt>{encrypt}</Encrypt></root>")),
        case("no_encrypt_element", "POST", 400, result=bad, **with_body("<xml><ToUserName>x</ToUserName></xml>")),
        case(
            "encrypt_twice",
            "POST",
            400,
            result=bad,
            **with_body(f"<xml><Encrypt>{encrypt}</Encrypt><Encrypt>AAAA</Encrypt></xml>"),
        ),
        case("encrypt_nested", "POST", 400, result=bad, **with_body(f"<xml><Encrypt><a>{encrypt}</a></Encrypt></xml>")),
        case("billion_laughs", "POST", 400, result=bad, **with_body(BILLION_LAUGHS)),
        case("external_entity_xxe", "POST", 400, result=bad, **with_body(XXE)),
        case("parameter_entity_remote_dtd", "POST", 400, result=bad, **with_body(PARAMETER_ENTITY)),
        case("undefined_entity", "POST", 400, result=bad, **with_body("<xml><Encrypt>&undefined;</Encrypt></xml>")),
        case("deep_xml_nesting", "POST", 400, result=bad, **with_body("<a>" * 30_000 + "</a>" * 30_000)),
        case(
            "declared_gbk_encoding",
            "POST",
            403,
            result=sig,
            **with_body('<?xml version="1.0" encoding="GBK"?><xml><Encrypt>密文</Encrypt></xml>'),
        ),
        case("not_utf8", "POST", 400, result=bad, **with_body("<xml><Encrypt>密文</Encrypt></xml>".encode("gbk"))),
        case("nul_bytes", "POST", 400, result=bad, **with_body(body[:10] + b"\x00" + body[10:])),
        case("oversized_body", "POST", 413, result=CallbackResult.TOO_LARGE, **with_body(body + b" " * MAX_BODY)),
        case(
            "oversized_chunked_body",
            "POST",
            413,
            result=CallbackResult.TOO_LARGE,
            chunked=True,
            **with_body(body + b" " * MAX_BODY),
        ),
        case("form_content_type", "POST", 415, result=CallbackResult.UNSUPPORTED_TYPE, **with_body(body, FORM)),
        case(
            "multipart_content_type", "POST", 415, result=CallbackResult.UNSUPPORTED_TYPE, **with_body(body, MULTIPART)
        ),
        case("put_method", "PUT", 405, result=None, params=query, body=body, headers=XML),
    ]
    for name, payload, status in _signed_payloads(APP_KEYS, echo=False):
        result = signed_payload_result(status)
        cases.append(
            case(
                name,
                "POST",
                status,
                result=result,
                params=signed(A_TOKEN, payload),
                body=app_xml(payload).encode(),
                headers=XML,
            )
        )
    for name, plaintext in [
        ("decrypted_not_xml", '{"MsgType": "text"}'),
        (
            "decrypted_billion_laughs",
            BILLION_LAUGHS.replace("<Encrypt>", "<Content>").replace("</Encrypt>", "</Content>"),
        ),
        ("decrypted_xxe", XXE.replace("<Encrypt>", "<Content>").replace("</Encrypt>", "</Content>")),
        ("decrypted_overlong_sender", app_plaintext("x", sender="u" * 200)),
    ]:
        params, raw = app_post(plaintext)
        cases.append(case(name, "POST", 400, result=bad, params=params, body=raw, headers=XML))
    for number, text in enumerate(INJECTIONS[3:6]):
        params, raw = app_post(app_plaintext(text))
        cases.append(
            case(
                f"signed_injection_{number}",
                "POST",
                200,
                result=CallbackResult.STORED,
                params=params,
                body=raw,
                headers=XML,
                stores=1,
                text=text,
            )
        )
    params, raw = app_post(app_plaintext("进展", msgid=HUGE_INT, create_time="9" * 30))
    cases.append(
        case(
            "signed_huge_ids_and_time",
            "POST",
            200,
            result=CallbackResult.STORED,
            params=params,
            body=raw,
            headers=XML,
            stores=1,
        )
    )
    return cases


# ---- DingTalk ---------------------------------------------------------------------------------------------


def dingtalk_post(text: str, **fields: Any) -> tuple[dict[str, str], bytes]:
    fields.setdefault("msgId", f"dh-{secrets.token_hex(6)}")
    return dingtalk_headers(now_ms()), as_json(dingtalk_message(text, **fields)).encode()


def dingtalk_corpus(replay: tuple[dict[str, str], bytes]) -> list[Hostile]:
    headers, body = dingtalk_post("10月工作进展：正常。")
    sig, stale, bad = CallbackResult.REFUSED_SIGNATURE, CallbackResult.REFUSED_STALE, CallbackResult.BAD_REQUEST

    def signed_at(timestamp: str) -> dict[str, str]:
        return dingtalk_headers(timestamp)

    def with_body(raw: str | bytes, content_type: str = "application/json") -> dict[str, Any]:
        data = raw.encode() if isinstance(raw, str) else raw
        return {"headers": {**dingtalk_headers(now_ms()), "Content-Type": content_type}, "body": data}

    def message(content: str = "10月工作进展：正常。", **fields: Any) -> str:
        fields.setdefault("msgId", f"dh-{secrets.token_hex(6)}")
        return as_json(dingtalk_message(content, **fields))

    cases = [
        case("no_headers", "POST", 403, result=sig, body=body, headers=JSON),
        case("timestamp_only", "POST", 403, result=sig, body=body, headers={**JSON, "timestamp": now_ms()}),
        case("sign_only", "POST", 403, result=sig, body=body, headers={**JSON, "sign": headers["sign"]}),
        case(
            "forged_sign", "POST", 403, result=sig, body=body, headers={**headers, "sign": b64(secrets.token_bytes(32))}
        ),
        case(
            "sign_for_another_secret",
            "POST",
            403,
            result=sig,
            body=body,
            headers=dingtalk_headers(now_ms(), secret="not-the-secret"),
        ),
        case(
            "replayed_sign_other_timestamp",
            "POST",
            403,
            result=sig,
            body=body,
            headers={**headers, "timestamp": str(int(headers["timestamp"]) + 1)},
        ),
        case(
            "urlsafe_base64_sign",
            "POST",
            403,
            result=sig,
            body=body,
            headers={**headers, "sign": headers["sign"].replace("+", "-").replace("/", "_") + "-"},
        ),
        case(
            "stale_timestamp",
            "POST",
            403,
            result=stale,
            body=body,
            headers=signed_at(str(int(time.time() * 1000) - 2 * 3600 * 1000)),
        ),
        case(
            "future_timestamp",
            "POST",
            403,
            result=stale,
            body=body,
            headers=signed_at(str(int(time.time() * 1000) + 2 * 3600 * 1000)),
        ),
        case("timestamp_in_seconds", "POST", 403, result=stale, body=body, headers=signed_at(now_s())),
        case("non_numeric_timestamp", "POST", 403, result=stale, body=body, headers=signed_at("now")),
        case("huge_timestamp", "POST", 403, result=stale, body=body, headers=signed_at("9" * 50)),
        case(
            "replay_of_a_stored_message",
            "POST",
            200,
            result=CallbackResult.DUPLICATE,
            body=replay[1],
            headers=replay[0],
        ),
        case("empty_body", "POST", 400, result=bad, **with_body(b"")),
        case("not_json", "POST", 400, result=bad, **with_body("msgtype=text")),
        case("json_array", "POST", 400, result=bad, **with_body("[1, 2]")),
        case("truncated_body", "POST", 400, result=bad, **with_body(body[: len(body) // 2])),
        case("not_utf8", "POST", 400, result=bad, **with_body('{"text": {"content": "进展"}}'.encode("gbk"))),
        case("utf8_bom", "POST", 400, result=bad, **with_body(b"\xef\xbb\xbf" + body)),
        case("nul_bytes", "POST", 400, result=bad, **with_body(body[:3] + b"\x00" + body[3:])),
        case(
            "json_bomb_deep_nesting",
            "POST",
            400,
            result=bad,
            **with_body(f'{{"msgtype": "text", "x": {_deep_json()}}}'),
        ),
        case(
            "json_huge_integer", "POST", 400, result=bad, **with_body(f'{{"msgtype": "text", "createAt": {HUGE_INT}}}')
        ),
        case("oversized_body", "POST", 413, result=CallbackResult.TOO_LARGE, **with_body(body + b" " * MAX_BODY)),
        case(
            "form_content_type",
            "POST",
            415,
            result=CallbackResult.UNSUPPORTED_TYPE,
            **with_body(body, "application/x-www-form-urlencoded"),
        ),
        case(
            "multipart_content_type",
            "POST",
            415,
            result=CallbackResult.UNSUPPORTED_TYPE,
            **with_body(body, "multipart/form-data; boundary=b"),
        ),
        case(
            "webhook_on_another_host",
            "POST",
            400,
            result=bad,
            **with_body(message(sessionWebhook="https://evil.example/robot/sendBySession?session=x")),
        ),
        case(
            "webhook_lookalike_host",
            "POST",
            400,
            result=bad,
            **with_body(message(sessionWebhook="https://oapi.dingtalk.com.evil.example/robot")),
        ),
        case(
            "webhook_userinfo_trick",
            "POST",
            400,
            result=bad,
            **with_body(message(sessionWebhook="https://oapi.dingtalk.com@evil.example/robot")),
        ),
        case(
            "webhook_javascript_scheme",
            "POST",
            400,
            result=bad,
            **with_body(message(sessionWebhook="javascript://oapi.dingtalk.com/%0aalert(1)")),
        ),
        case(
            "webhook_file_scheme",
            "POST",
            400,
            result=bad,
            **with_body(message(sessionWebhook="file://oapi.dingtalk.com/etc/passwd")),
        ),
        case(
            "duplicate_keys_evil_webhook_last",
            "POST",
            400,
            result=bad,
            **with_body(message()[:-1] + ', "sessionWebhook": "https://evil.example/x"}'),
        ),
        case("overlong_sender", "POST", 400, result=bad, **with_body(message(senderStaffId="s" * 200))),
        case("overlong_conversation", "POST", 400, result=bad, **with_body(message(conversationId="c" * 200))),
        case("get_method", "GET", 405, result=None, headers=headers),
        case("put_method", "PUT", 405, result=None, body=body, headers=headers),
    ]
    # DingTalk's signature covers the timestamp only: a captured one carries any body for up to an hour. Such a
    # body is accepted (it is what the protocol allows); its reply address must still be on DingTalk's host.
    replayed = {**replay[0]}
    text = INJECTIONS[6]
    cases.append(
        case(
            "replayed_sign_new_body_protocol_limit",
            "POST",
            200,
            result=CallbackResult.STORED,
            body=message(text).encode(),
            headers=replayed,
            stores=1,
            text=text.strip(),
        )
    )
    for number, text in enumerate(INJECTIONS[4:6]):
        hdrs, raw = dingtalk_post(text)
        cases.append(
            case(
                f"signed_injection_{number}",
                "POST",
                200,
                result=CallbackResult.STORED,
                body=raw,
                headers=hdrs,
                stores=1,
                text=text,
            )
        )
    hdrs, raw = dingtalk_post("进展", createAt=10**30, sessionWebhookExpiredTime=-(10**30), msgId="9" * 300)
    cases.append(
        case("signed_huge_numbers", "POST", 200, result=CallbackResult.STORED, body=raw, headers=hdrs, stores=1)
    )
    hdrs, raw = dingtalk_post("进展", msgId="dh-infinite")
    raw = raw[:-1] + b', "createAt": 1e999, "sessionWebhookExpiredTime": -Infinity}'
    # Not JSON by the standard, and no database's JSON column holds it: refused (it once answered 503 for ever).
    cases.append(
        case("signed_infinite_numbers", "POST", 400, result=CallbackResult.BAD_REQUEST, body=raw, headers=hdrs)
    )
    return cases


# ---- the sandbox ------------------------------------------------------------------------------------------


def sandbox_corpus() -> list[Hostile]:
    bad = CallbackResult.BAD_REQUEST
    good = as_json({"person_id": 1, "text": "10月工作进展：正常。"}).encode()

    def post(
        raw: str | bytes, content_type: str = "application/json", status: int = 400, **extra: Any
    ) -> dict[str, Any]:
        data = raw.encode() if isinstance(raw, str) else raw
        return {"body": data, "headers": {"Content-Type": content_type}, **extra}

    origin = CallbackResult.REFUSED_ORIGIN
    cases = [
        case("peer_off_this_machine", "POST", 403, result=origin, remote="203.0.113.9", **post(good)),
        case(
            "peer_off_this_machine_claiming_loopback",
            "POST",
            403,
            result=origin,
            remote="203.0.113.9",
            body=good,
            headers={**JSON, "X-Forwarded-For": "127.0.0.1", "Host": "localhost"},
        ),
        case("peer_on_private_network", "POST", 403, result=origin, remote="10.0.0.8", **post(good)),
        case("no_content_type", "POST", 415, result=CallbackResult.UNSUPPORTED_TYPE, body=good),
        case("text_plain", "POST", 415, result=CallbackResult.UNSUPPORTED_TYPE, **post(good, "text/plain")),
        case(
            "form",
            "POST",
            415,
            result=CallbackResult.UNSUPPORTED_TYPE,
            **post(b"person_id=1&text=x", "application/x-www-form-urlencoded"),
        ),
        case(
            "multipart",
            "POST",
            415,
            result=CallbackResult.UNSUPPORTED_TYPE,
            **post(good, "multipart/form-data; boundary=b"),
        ),
        case("empty_body", "POST", 400, result=bad, **post(b"")),
        case("not_json", "POST", 400, result=bad, **post("person_id=1")),
        case("json_array", "POST", 400, result=bad, **post("[1]")),
        case("empty_object", "POST", 400, result=bad, **post("{}")),
        case("truncated", "POST", 400, result=bad, **post(good[:-5])),
        case("person_id_as_string", "POST", 400, result=bad, **post('{"person_id": "1", "text": "x"}')),
        case("person_id_zero", "POST", 400, result=bad, **post('{"person_id": 0, "text": "x"}')),
        case("person_id_negative", "POST", 400, result=bad, **post('{"person_id": -5, "text": "x"}')),
        case("person_id_beyond_int32", "POST", 400, result=bad, **post('{"person_id": 2147483648, "text": "x"}')),
        case("person_id_huge", "POST", 400, result=bad, **post(f'{{"person_id": {HUGE_INT}, "text": "x"}}')),
        case("person_id_float", "POST", 400, result=bad, **post('{"person_id": 1.0, "text": "x"}')),
        case("person_id_bool", "POST", 400, result=bad, **post('{"person_id": true, "text": "x"}')),
        case("person_id_fullwidth_digits", "POST", 400, result=bad, **post('{"person_id": "１", "text": "x"}')),
        case("unknown_field", "POST", 400, result=bad, **post('{"person_id": 1, "text": "x", "sender_id": "0"}')),
        case("text_missing", "POST", 400, result=bad, **post('{"person_id": 1}')),
        case("text_null", "POST", 400, result=bad, **post('{"person_id": 1, "text": null}')),
        case("text_number", "POST", 400, result=bad, **post('{"person_id": 1, "text": 5}')),
        case("group_empty", "POST", 400, result=bad, **post('{"person_id": 1, "group": "", "text": "x"}')),
        case(
            "group_too_long",
            "POST",
            400,
            result=bad,
            **post(as_json({"person_id": 1, "group": "群" * 101, "text": "x"})),
        ),
        case(
            "message_id_too_long",
            "POST",
            400,
            result=bad,
            **post(as_json({"person_id": 1, "message_id": "m" * 129, "text": "x"})),
        ),
        case(
            "duplicate_keys_bad_last",
            "POST",
            400,
            result=bad,
            **post('{"person_id": 1, "text": "x", "person_id": "x"}'),
        ),
        case("json_bomb_deep_nesting", "POST", 400, result=bad, **post(f'{{"person_id": 1, "text": {_deep_json()}}}')),
        case("not_utf8", "POST", 400, result=bad, **post('{"person_id": 1, "text": "进展"}'.encode("gbk"))),
        case("utf8_bom", "POST", 400, result=bad, **post(b"\xef\xbb\xbf" + good)),
        case("raw_nul_in_string", "POST", 400, result=bad, **post(b'{"person_id": 1, "text": "a\x00b"}')),
        case(
            "oversized",
            "POST",
            413,
            result=CallbackResult.TOO_LARGE,
            **post(as_json({"person_id": 1, "text": "x" * MAX_BODY})),
        ),
        case("get_method", "GET", 405, result=None),
        case("delete_method", "DELETE", 405, result=None),
    ]
    for number, text in enumerate(INJECTIONS):
        raw = as_json({"person_id": 1, "text": text, "message_id": f"sb-inj-{number}"})
        cases.append(
            case(
                f"injection_{number}",
                "POST",
                200,
                result=CallbackResult.STORED,
                stores=1,
                text=text.strip(),
                **post(raw),
            )
        )
    cases.append(
        case(
            "escaped_nul_is_cleaned",
            "POST",
            200,
            result=CallbackResult.STORED,
            stores=1,
            text="ab",
            **post('{"person_id": 1, "text": "a\\u0000b"}'),
        )
    )
    cases.append(case("lone_surrogate", "POST", 400, result=bad, **post('{"person_id": 1, "text": "a\\ud800b"}')))
    return cases
