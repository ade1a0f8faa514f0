"""Request signatures of the custom robots (PLATFORMS.md has the formulas and regression vectors)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), not yet URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def dingtalk_signed_url(webhook: str, secret: str, timestamp_ms: int) -> str:
    """``webhook`` with ``&timestamp=…&sign=…`` appended (the signature URL-encoded)."""
    separator = "&" if "?" in webhook else "?"
    sign = quote_plus(dingtalk_sign(secret, timestamp_ms))
    return f"{webhook}{separator}timestamp={timestamp_ms}&sign={sign}"


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")); goes in the JSON body."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
