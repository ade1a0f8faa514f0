"""The 智能机器人's file decryption, as the bytes arrive in pieces of any size, and its refusals."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.files.fetch import Decryptor, Failed, Verdict, disposition_name
from tests.fakes.files import encrypt_for_bot
from tests.inbound_kit import BOT_AES_KEY


@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(min_value=0, max_value=3100), max_size=8))
def test_decrypting_in_pieces_gives_the_file(data: bytes, cuts: list[int]) -> None:
    sealed = encrypt_for_bot(data, BOT_AES_KEY)
    decryptor = Decryptor(BOT_AES_KEY)
    edges = [0, *sorted(min(cut, len(sealed)) for cut in cuts), len(sealed)]
    out = b"".join(decryptor.update(sealed[start:end]) for start, end in itertools.pairwise(edges))
    assert out + decryptor.finish() == data


def test_a_wrong_key_or_a_cut_download_is_not_taken_for_the_file() -> None:
    sealed = encrypt_for_bot(b"report" * 100, BOT_AES_KEY)
    other = Decryptor("A" * 43)
    other.update(sealed)
    with pytest.raises(Failed) as wrong:
        other.finish()
    assert wrong.value.fetched.verdict is Verdict.GONE
    cut = Decryptor(BOT_AES_KEY)
    cut.update(sealed[:-5])
    with pytest.raises(Failed, match="数据长度不符"):
        cut.finish()


@pytest.mark.parametrize("key", ["", "short", "!" * 43])
def test_an_unusable_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError):
        Decryptor(key)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("attachment; filename*=UTF-8''%E8%BF%9B%E5%B1%95.docx", "进展.docx"),
        ('attachment; filename="MEDIA_ID.jpg"', "MEDIA_ID.jpg"),
        ('attachment; filename="è¿\x9bå±\x95.pdf"', "进展.pdf"),
        ("inline", ""),
    ],
)
def test_names_from_content_disposition(header: str, name: str) -> None:
    assert disposition_name(header) == name
