"""Each channel's one classifier: ok, retry later (with the platform's wait), permanent (with cause and fix)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot.outbound.senders import (
    dingtalk_robot,
    dingtalk_session,
    feishu_bot,
    wecom_app,
    wecom_response_url,
    wecom_webhook,
)
from bot.outbound.senders.base import Answer, Kind, Outcome
from bot.outbound.senders.wecom_webhook import classify as wecom_classify

ALL = [wecom_webhook, dingtalk_robot, feishu_bot, wecom_response_url, dingtalk_session, wecom_app]


def body(code: int, message: str = "", **extra: Any) -> Answer:
    return Answer(200, {"errcode": code, "errmsg": message, **extra})


@pytest.mark.parametrize("module", ALL, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (Answer(error=aiohttp.ClientConnectionError()), Kind.RETRY),
        (Answer(error=aiohttp.ConnectionTimeoutError()), Kind.RETRY),
        (Answer(error=aiohttp.ServerDisconnectedError()), Kind.UNCERTAIN),  # connected, then closed: maybe posted
        (Answer(error=aiohttp.ClientOSError(104, "Connection reset by peer")), Kind.UNCERTAIN),
        (Answer(error=aiohttp.ClientPayloadError()), Kind.UNCERTAIN),
        (Answer(error=aiohttp.ClientConnectorError(None, OSError(111, "Connection refused"))), Kind.RETRY),
        (Answer(error=aiohttp.SocketTimeoutError()), Kind.UNCERTAIN),  # written, never answered
        (Answer(502), Kind.RETRY),
        (Answer(503, {"errcode": -1}), Kind.RETRY),
        (Answer(404), Kind.PERMANENT),
        (Answer(400), Kind.PERMANENT),
        (Answer(200), Kind.PERMANENT),  # not JSON: the address points somewhere else
        (body(0, "ok"), Kind.OK),
    ],
)
def test_transport_and_success(module: Any, answer: Answer, kind: Kind) -> None:
    assert module.classify(answer).kind is kind


def test_feishu_success_shape() -> None:
    answer = Answer(200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})
    assert feishu_bot.classify(answer).kind is Kind.OK


@pytest.mark.parametrize(
    ("module", "answer", "wait_at_least"),
    [
        (wecom_webhook, body(45009, "api freq out of limit"), 65),
        (wecom_app, body(45009, "api freq out of limit"), 65),
        (dingtalk_robot, body(130101, "send too fast"), 600),  # wait out the 10-minute block
        (feishu_bot, Answer(200, {"code": 11232, "msg": "frequency limited"}), 1),
    ],
)
def test_rate_limit_answers_are_retried_after_the_platforms_wait(
    module: Any, answer: Answer, wait_at_least: float
) -> None:
    outcome: Outcome = module.classify(answer)
    assert outcome.kind is Kind.RETRY
    assert outcome.wait is not None and outcome.wait >= wait_at_least


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        ("sign not match, more: [https://open.dingtalk.com]", "加签"),
        ("keywords not in content, more: [https://open.dingtalk.com]", "关键词"),
        ("ip 1.2.3.4 not in whitelist, more: [https://open.dingtalk.com]", "IP"),
        ("invalid timestamp, more: [https://open.dingtalk.com]", "时间"),
    ],
)
def test_dingtalk_310000_is_told_apart_by_errmsg(message: str, cause: str) -> None:
    outcome = dingtalk_robot.classify(body(310000, message))
    assert (outcome.kind, outcome.errcode) == (Kind.PERMANENT, "310000")
    assert cause in outcome.cause
    assert outcome.fix and outcome.alert


@pytest.mark.parametrize(
    ("module", "answer", "words"),
    [
        (wecom_webhook, body(93000, "invalid webhook url"), "Webhook"),
        (wecom_app, body(40001, "invalid credential"), "Secret"),
        (wecom_app, body(60020, "not allow to access from your ip"), "IP"),
        (wecom_app, body(0, "ok", invaliduser="nobody"), "接收人"),
        (feishu_bot, Answer(200, {"code": 19021, "msg": "sign match fail"}), "签名"),
        (feishu_bot, Answer(200, {"code": 19024, "msg": "Key Words Not Found"}), "关键词"),
        (dingtalk_robot, body(300001, "token is not exist"), "access_token"),
        (wecom_webhook, body(12345, "something new"), "12345"),
    ],
)
def test_permanent_failures_say_what_went_wrong_and_what_to_fix(module: Any, answer: Answer, words: str) -> None:
    outcome = module.classify(answer)
    assert outcome.kind is Kind.PERMANENT
    assert words in outcome.cause
    assert outcome.fix
    assert outcome.alert


def test_stale_app_token_asks_for_a_refresh() -> None:
    for code in (40014, 42001):
        outcome = wecom_app.classify(body(code))
        assert outcome.kind is Kind.RETRY and outcome.refresh_token


def test_expired_reply_routes_fail_quietly() -> None:
    assert dingtalk_session.classify(body(300001, "session 不存在")).alert is False
    assert wecom_response_url.classify(body(93001, "used")).alert is False


def test_describe_keeps_the_platforms_words() -> None:
    outcome = wecom_classify(body(93000, "invalid webhook url"))
    assert outcome.describe().endswith("（错误码 93000）：invalid webhook url")
