"""Request signatures: the regression vectors of PLATFORMS.md, and the fakes refusing a wrong signature."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from bot.outbound.signing import dingtalk_sign, dingtalk_signed_url, feishu_sign
from tests.fakes.dingtalk import expected_sign as fake_dingtalk_sign
from tests.fakes.feishu import expected_sign as fake_feishu_sign


def test_dingtalk_custom_robot_vector() -> None:
    assert dingtalk_sign("SECtest0123456789", 1700000000000) == "yBKp5IlG6qCzcQWmgyRK/ziJBdVNJmHfFE2ST/CzT/g="


def test_dingtalk_same_formula_as_the_inbound_vector() -> None:
    assert dingtalk_sign("appSecretTest", 1700000000000) == "gIsxP3F3/HKSYVvEo7bTU2814+vDqd3s73S3fm9AIeM="


def test_feishu_vector() -> None:
    assert feishu_sign("feishuSecretTest", 1700000000) == "z6faEMqPNh4gjWAWyG/ZrRtFlTm3bjbrHppE++lp+uw="


def test_a_changed_character_changes_the_signature() -> None:
    assert dingtalk_sign("SECtest0123456788", 1700000000000) != "yBKp5IlG6qCzcQWmgyRK/ziJBdVNJmHfFE2ST/CzT/g="
    assert feishu_sign("feishuSecretTest", 1700000001) != "z6faEMqPNh4gjWAWyG/ZrRtFlTm3bjbrHppE++lp+uw="


def test_dingtalk_signed_url_is_url_encoded_and_round_trips() -> None:
    url = dingtalk_signed_url(
        "https://oapi.dingtalk.com/robot/send?access_token=abc", "SECtest0123456789", 1700000000000
    )
    assert url.endswith("&timestamp=1700000000000&sign=yBKp5IlG6qCzcQWmgyRK%2FziJBdVNJmHfFE2ST%2FCzT%2Fg%3D")
    query = parse_qs(urlsplit(url).query)
    assert query["access_token"] == ["abc"]
    assert query["sign"] == [fake_dingtalk_sign("SECtest0123456789", "1700000000000")]


def test_the_fakes_compute_the_same_signatures() -> None:
    assert fake_feishu_sign("feishuSecretTest", "1700000000") == feishu_sign("feishuSecretTest", 1700000000)
