"""WeCom callback crypto (WXBizMsgCrypt) through wechatpy, with the checks wechatpy leaves out.

wechatpy 1.8 compares signatures with ``!=`` and never looks at the timestamp. Here the signature is
checked first, in constant time, then the timestamp's freshness, and only then is anything decrypted.
Every way a ciphertext can be malformed (base64, length, padding, length prefix, encoding) is a 400;
a wrong signature, a stale timestamp or a wrong receiveid (corp id) is a 403.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from bot.inbound.edge import bad_request, forbidden, stale

AES_BLOCK = 16
# 16 random bytes + a 4-byte length, padded: no genuine ciphertext is shorter than two blocks.
MIN_CIPHERTEXT = 2 * AES_BLOCK


def signature_of(token: str, timestamp: str, nonce: str, payload: str) -> str:
    """``sha1`` over the sorted concatenation of token, timestamp, nonce and payload, in hex."""
    parts = sorted(part.encode("utf-8", "surrogatepass") for part in (token, timestamp, nonce, payload))
    return hashlib.sha1(b"".join(parts)).hexdigest()  # noqa: S324 - the platform's scheme, not our choice


class WecomCallbackCrypto:
    """Verifies and decrypts the callbacks of one WeCom endpoint.

    ``receive_id`` is the corp id for a self-built app and the empty string for the 智能机器人.
    ``window`` is ``[wecom] timestamp_window`` in seconds; 0 turns the freshness check off.
    """

    def __init__(self, *, token: str, encoding_aes_key: str, receive_id: str, window: int) -> None:
        self._token = token
        self._window = window
        self._crypto = WeChatCrypto(token, encoding_aes_key, receive_id)

    def verify(self, *, signature: str, timestamp: str, nonce: str, payload: str, now: float) -> None:
        """Raise a 403 refusal unless ``signature`` signs the request and ``timestamp`` is fresh."""
        expected = signature_of(self._token, timestamp, nonce, payload)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
            raise forbidden("bad signature")
        if self._window:
            try:
                sent = int(timestamp)
            except ValueError:
                raise stale("bad timestamp") from None
            if abs(now - sent) > self._window:
                raise stale("stale timestamp")

    def decrypt(self, *, signature: str, timestamp: str, nonce: str, payload: str) -> str:
        """The plaintext of a payload whose signature :meth:`verify` has accepted."""
        _check_ciphertext(payload)
        try:
            plaintext = self._crypto.decrypt_message({"Encrypt": payload}, signature, timestamp, nonce)
        except InvalidCorpIdException:
            raise forbidden("wrong receiveid") from None
        except InvalidSignatureException:
            raise forbidden("bad signature") from None
        except (ValueError, TypeError, IndexError, struct.error, UnicodeDecodeError, binascii.Error):
            # ValueError covers cryptography's block-length errors; IndexError an empty plaintext; struct.error
            # a missing length prefix; UnicodeDecodeError a message or receiveid that is not UTF-8.
            raise bad_request("undecipherable payload") from None
        return str(plaintext)

    def verified_plaintext(self, *, signature: str, timestamp: str, nonce: str, payload: str, now: float) -> str:
        self.verify(signature=signature, timestamp=timestamp, nonce=nonce, payload=payload, now=now)
        return self.decrypt(signature=signature, timestamp=timestamp, nonce=nonce, payload=payload)


def _check_ciphertext(payload: str) -> None:
    try:
        raw = base64.b64decode(payload.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise bad_request("payload is not base64") from None
    if len(raw) < MIN_CIPHERTEXT or len(raw) % AES_BLOCK:
        raise bad_request("ciphertext of a wrong length")
