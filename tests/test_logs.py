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
