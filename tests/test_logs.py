"""Structured logs mask configured secrets and carry the trace id."""

from __future__ import annotations

import logging

import pytest

from bot.config import Settings
from bot.logs import configure_logging, trace_id


def test_secrets_are_masked_and_trace_is_carried(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings.model_validate(
        {
            "wecom": {"app": {"secret": "app-secret-value", "corp_id": "ww1"}},
            "groups": [
                {
                    "name": "群",
                    "platform": "wecom",
                    "webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd-1234-key",
                }
            ],
        }
    )
    configure_logging(secrets=settings.secret_values())
    token = trace_id.set("inbox:42")
    try:
        logging.getLogger("duban.test").warning("calling %s with %s", "abcd-1234-key", "app-secret-value")
    finally:
        trace_id.reset(token)
    err = capsys.readouterr().err
    assert "abcd-1234-key" not in err and "app-secret-value" not in err
    assert "calling *** with ***" in err
    assert "trace=inbox:42" in err
    assert "level=WARNING" in err


REPORT = "10月份重点项目推进情况：完成投资12.3亿元，滞后项目2个"


def _reason(secret: str) -> None:
    raise ValueError(f"token {secret} refused while storing {REPORT}")


def test_a_traceback_carries_neither_secret_nor_report_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(secrets=["corp-secret-0123456789"])
    log = logging.getLogger("duban.test")
    try:
        try:
            _reason("corp-secret-0123456789")
        except ValueError as exc:
            raise RuntimeError(f"handler failed on {REPORT}") from exc
    except RuntimeError:
        log.exception("inbox 7: handler failed")
    # The secret also where the mask cannot see it coming: an exception passed as exc_info.
    log.error("send failed", exc_info=KeyError("corp-secret-0123456789"))
    err = capsys.readouterr().err
    assert "corp-secret-0123456789" not in err
    assert "10月份" not in err and "12.3亿元" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2, lines  # one event, one line: the traceback is folded into it
    assert 'msg="inbox 7: handler failed"' in lines[0]
    assert "Traceback: ValueError (message withheld) at " in lines[0]
    assert "which caused RuntimeError (message withheld)" in lines[0]
    assert "tests/test_logs.py" in lines[0] and "in _reason" in lines[0]
    assert "KeyError (message withheld)" in lines[1]


def test_a_newline_cannot_forge_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    forged = '你好\n2026-12-04 10:00:00,000 level=INFO logger=bot.app trace=- msg="duban started as evil"'
    token = trace_id.set("x y\nlevel=ERROR")  # a caller's X-Request-Id
    try:
        logging.getLogger("duban.test").info("sandbox message from %s", forged)
    finally:
        trace_id.reset(token)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "\\n2026-12-04 10:00:00,000 level=INFO" in err
    assert '\\"duban started as evil\\"' in err  # the quote is escaped: no msg= of its own
    assert 'trace="x y\\nlevel=ERROR"' in err


async def test_database_errors_do_not_carry_bound_values() -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from storage.db import create_engine

    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)"))
            await connection.execute(text("INSERT INTO t (body) VALUES (:body)"), {"body": REPORT})
            with pytest.raises(IntegrityError) as raised:
                await connection.execute(text("INSERT INTO t (body) VALUES (:body)"), {"body": REPORT})
    finally:
        await engine.dispose()
    assert REPORT not in str(raised.value)
    assert "hidden due to hide_parameters" in str(raised.value)
