"""Configuration: TOML file, environment overrides, and refusals that name the key, the problem and the file."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings
from bot.config_files import service_address

GOOD = """
timezone = "Asia/Shanghai"
[database]
url = "sqlite+aiosqlite:///var/test.db"
[server]
port = 8181
[wecom.app]
corp_id = "ww1436e0e65a779aee"
agent_id = 1000002
[[groups]]
name = "强省会工作机制群"
platform = "dingtalk"
webhook = "https://oapi.dingtalk.com/robot/send?access_token=x"
secret = "SECtest"
[[groups]]
name = "办公室"
platform = "sandbox"
office = true
[reporting]
deadline_day = 20
deadline_time = 18:00:00
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DUBAN_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "duban.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_values_are_loaded(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.server.port == 8181
    assert settings.wecom.app.agent_id == 1000002
    assert [g.name for g in settings.groups] == ["强省会工作机制群", "办公室"]
    assert settings.groups[0].secret.get_secret_value() == "SECtest"
    assert settings.groups[1].office is True
    assert settings.reporting.deadline_day == 20
    assert settings.reporting.deadline_time == time(18, 0)
    assert str(settings.tz) == "Asia/Shanghai"


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database.url == "sqlite+aiosqlite:///var/duban.db"
    assert settings.timezone == "Asia/Shanghai"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.reporting.deadline_day == 25
    assert settings.wecom.timestamp_window == 300
    assert not settings.wecom.app.enabled and not settings.wecom.bot.enabled and not settings.dingtalk.enabled


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_DATABASE__URL", "postgresql+asyncpg://duban@db/duban")
    monkeypatch.setenv("DUBAN_WECOM__APP__TOKEN", "env-token")
    monkeypatch.setenv("DUBAN_SERVER__PORT", "9090")
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.database.url == "postgresql+asyncpg://duban@db/duban"
    assert settings.wecom.app.token.get_secret_value() == "env-token"
    assert settings.server.port == 9090
    assert settings.wecom.app.corp_id == "ww1436e0e65a779aee"


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_CONFIG", str(write(tmp_path, GOOD)))
    assert load_settings().server.port == 8181


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[server]\nport = 99999\n", "server.port: 不能大于 65535（当前值 99999）"),
        ("[server]\nprot = 80\n", "server.prot: 未知的配置项"),
        ('timezone = "Mars/Olympus"\n', "timezone: 未知时区"),
        ('[database]\nurl = "mysql://x"\n', "database.url: 应以 sqlite+aiosqlite:// 或 postgresql+asyncpg:// 开头"),
        ("[reporting]\ndeadline_day = 31\n", "reporting.deadline_day: 不能大于 28"),
        ('[reporting]\ndeadline_time = "noon"\n', "reporting.deadline_time: 应为时刻"),
        ('[[groups]]\nname = "群"\nplatform = "qq"\n', "groups[0].platform: 取值应为"),
        ('[[groups]]\nname = "群"\nplatform = "wecom"\n', "群「群」的平台为 wecom，须填写 webhook"),
        (
            '[[groups]]\nname = "群"\nplatform = "sandbox"\n[[groups]]\nname = "群"\nplatform = "sandbox"\n',
            "群名「群」重复",
        ),
        ('[wecom.bot]\nencoding_aes_key = "tooshort"\n', "wecom.bot.encoding_aes_key: EncodingAESKey 应为 43 个字符"),
        ('[documents]\nnumber_pattern = "〔{year}〕{no}号"\n', "documents.number_pattern: 只能使用 {prefix}、{year}"),
        ('[documents]\nnumber_pattern = "〔{year}〕号"\n', "documents.number_pattern: 应包含 {number}"),
        ('[documents]\ntemplate = "无此红头.docx"\n', "documents.template: 文件不存在"),
        ("[documents]\non_time_names_up_to = -1\n", "documents.on_time_names_up_to: 不能小于 0"),
    ],
)
def test_bad_values_are_refused_with_key_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    rendered = caught.value.render()
    assert str(path) in rendered
    assert expected in rendered


def test_secret_values_are_never_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, '[wecom.bot]\nencoding_aes_key = "s3cr3t-value"\n'))
    assert "s3cr3t-value" not in caught.value.render()
    assert "取值已隐去" in caught.value.render()


def test_invalid_toml_and_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="不是合法的 TOML"):
        load_settings(write(tmp_path, "x = ["))
    with pytest.raises(ConfigError, match="文件不存在"):
        load_settings(tmp_path / "absent.toml")


def test_config_check_prints_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(write(tmp_path, GOOD)), "config", "check"]) == 0
    assert "配置正确" in capsys.readouterr().out
    bad = write(tmp_path, "[server]\nport = 0\n")
    assert main(["--config", str(bad), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert "server.port: 不能小于 1" in err
    assert "Traceback" not in err


def test_example_config_is_valid_and_documents_every_key() -> None:
    example = Path(__file__).resolve().parent.parent / "deploy" / "duban.example.toml"
    settings = load_settings(example)
    assert settings.timezone == "Asia/Shanghai"
    text = example.read_text(encoding="utf-8")
    for key in (
        "timezone",
        "[database]",
        "url",
        "[server]",
        "host",
        "port",
        "[wecom]",
        "api_base",
        "timestamp_window",
        "[files]",
        "max_megabytes",
        "join_window_minutes",
        "openapi_base",
        "[wecom.app]",
        "corp_id",
        "agent_id",
        "secret",
        "token",
        "encoding_aes_key",
        "[wecom.bot]",
        "[dingtalk]",
        "app_key",
        "app_secret",
        "[feishu]",
        "[[groups]]",
        "platform",
        "webhook",
        "chat_id",
        "[reporting]",
        "deadline_day",
        "deadline_time",
    ):
        assert key in text, key


@pytest.mark.parametrize(
    ("text", "environment"),
    [
        ("", {}),
        ("[server]\nport = 8181\n", {}),
        ('[server]\nhost = "0.0.0.0"\nport = 9001\nmax_body_bytes = 4096\n', {}),
        ('[server]\nport = "8182"\n', {}),
        ("[server]\nport = 8181\n", {"DUBAN_SERVER__PORT": "9090"}),
        ("[server]\nport = 8181\n", {"duban_server__host": "::1"}),
        ("[server]\nport = 8181\n", {"DUBAN_SERVER": '{"port": 7000, "host": "localhost"}'}),
        ("", {"DUBAN_SERVER": '{"port": 7000}', "DUBAN_SERVER__PORT": "7001"}),
        ("[server]\nport = 99999\n", {}),
        ("[server]\nport = 0\n", {}),
        ("[server]\nport = true\n", {}),
        ("[server]\nport = 80.0\n", {}),
        ("[server]\nprot = 80\n", {}),
        ("[server]\nport = 8181\n", {"DUBAN_SERVER__PORT": "eighty"}),
        ("[server]\nport = 8181\n", {"DUBAN_SERVER__PORT": ""}),
        ("[server]\nport = 8181\n", {"DUBAN_SERVER__FOO": "1"}),
        ("[server]\nport = 8181\n", {"DUBAN_SERVER": "[1]"}),
        ('server = "x"\n', {}),
        ("x = [", {}),
    ],
)
def test_the_service_address_reads_as_the_settings_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, environment: dict[str, str]
) -> None:
    """``duban say`` reads only ``[server]`` (no pydantic): what it reads is what the settings say, and whenever it
    cannot tell, it says so (``None``) and the command loads the settings, which refuse with the reason."""
    path = write(tmp_path, text)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    address = service_address(path)
    try:
        settings = load_settings(path)
    except ConfigError:
        assert address is None
        return
    if address is not None:
        assert address == (settings.server.host, settings.server.port)
    else:
        # Valid for pydantic's lax reading (80.0 and true are whole numbers to it) but not read here: the command
        # then loads the settings, which give the same address.
        assert text in ("[server]\nport = 80.0\n", "[server]\nport = true\n")


def test_an_absent_named_file_is_left_to_the_settings(tmp_path: Path) -> None:
    assert service_address(tmp_path / "absent.toml") is None
    with pytest.raises(ConfigError, match="文件不存在"):
        load_settings(tmp_path / "absent.toml")
