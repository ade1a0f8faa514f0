"""Configuration: one TOML file, validated by pydantic, every key overridable by environment.

The file is found at ``--config PATH``, else ``$DUBAN_CONFIG``, else ``./duban.toml``. Environment variables
``DUBAN_<SECTION>__<KEY>`` override the file (``DUBAN_DATABASE__URL``, ``DUBAN_WECOM__APP__TOKEN``), read by
pydantic-settings' environment source. That library takes a tenth of a second to import, more than the rest of
this module: :func:`load_settings` imports it only when the environment holds such a variable, so that a
command like ``duban status`` on a clerk's machine starts without it. The rules are the models' either way.
"""

from __future__ import annotations

import os
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config_files import DEFAULT_HOST, DEFAULT_PORT, MAX_PORT
from bot.config_files import resolve_config_path as resolve_config_path  # re-exported: the CLI finds it here
from bot.errors import ConfigError as ConfigError  # re-exported: callers catch it from here
from schedules.settings import ScheduleSettings
from storage.policy import DocumentSettings

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/duban.db"

Platform = Literal["wecom", "dingtalk", "feishu", "sandbox"]


class Section(BaseModel):
    """A config section: unknown keys are refused, so a typo is caught at start rather than ignored."""

    model_config = ConfigDict(extra="forbid")


class DatabaseConfig(Section):
    url: str = DEFAULT_DATABASE_URL
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("应以 sqlite+aiosqlite:// 或 postgresql+asyncpg:// 开头")
        return value


class ServerConfig(Section):
    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=1, le=MAX_PORT)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)


def _check_aes_key(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value()
    if raw and len(raw) != 43:
        raise ValueError("EncodingAESKey 应为 43 个字符（企业微信后台“接收消息”设置中随机生成的那一串）")
    return value


def _check_ca_file(value: str) -> str:
    if value and not Path(value).is_file():
        raise ValueError("证书文件不存在")
    return value


class WecomAppConfig(Section):
    corp_id: str = ""
    agent_id: int | None = None
    secret: SecretStr = SecretStr("")
    token: SecretStr = SecretStr("")
    encoding_aes_key: SecretStr = SecretStr("")

    _aes_key = field_validator("encoding_aes_key")(_check_aes_key)

    @property
    def enabled(self) -> bool:
        return bool(self.corp_id and self.token.get_secret_value() and self.encoding_aes_key.get_secret_value())


class WecomBotConfig(Section):
    """``[wecom.bot]``: the 智能机器人. ``transport = "http"`` receives its callbacks on ``/wecom/bot`` (``token``,
    ``encoding_aes_key``); ``"websocket"`` opens its long connection instead (``bot_id``, ``secret``; ``ws_url``
    for a private deployment, ``ca_file`` when that deployment's certificate comes from its own CA)."""

    token: SecretStr = SecretStr("")
    encoding_aes_key: SecretStr = SecretStr("")
    transport: Literal["http", "websocket"] = "http"
    bot_id: str = ""
    secret: SecretStr = SecretStr("")
    ws_url: str = "wss://openws.work.weixin.qq.com"
    ca_file: str = ""

    _aes_key = field_validator("encoding_aes_key")(_check_aes_key)
    _ca_file = field_validator("ca_file")(_check_ca_file)

    @property
    def enabled(self) -> bool:
        return bool(self.token.get_secret_value() and self.encoding_aes_key.get_secret_value())

    @field_validator("ws_url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        if not value.startswith(("wss://", "ws://")):
            raise ValueError("应以 wss:// 开头（测试环境可用 ws://）")
        return value

    @model_validator(mode="after")
    def _websocket_needs_credentials(self) -> WecomBotConfig:
        if self.transport == "websocket" and not (self.bot_id and self.secret.get_secret_value()):
            raise ValueError('transport = "websocket" 须同时填写 bot_id 与 secret（智能机器人配置页“长连接”处获取）')
        return self


class WecomConfig(Section):
    api_base: str = "https://qyapi.weixin.qq.com"
    timestamp_window: int = Field(default=300, ge=0)
    app: WecomAppConfig = WecomAppConfig()
    bot: WecomBotConfig = WecomBotConfig()


class DingtalkConfig(Section):
    """``[dingtalk]``: ``api_base`` is the old-style ``oapi`` host (robots, session webhooks), ``openapi_base`` the
    host of the new-style OpenAPI (tokens, Stream mode's open-connection call).

    ``transport``: ``"http"`` receives the enterprise robot's callbacks on ``POST /dingtalk/bot`` (a public
    address needed); ``"stream"`` opens an outbound long connection instead (Stream mode: no inbound port).
    """

    api_base: str = "https://oapi.dingtalk.com"
    openapi_base: str = "https://api.dingtalk.com"
    app_key: str = ""
    app_secret: SecretStr = SecretStr("")
    transport: Literal["http", "stream"] = "http"
    ca_file: str = ""

    _ca_file = field_validator("ca_file")(_check_ca_file)

    @property
    def enabled(self) -> bool:
        return bool(self.app_secret.get_secret_value())

    @model_validator(mode="after")
    def _stream_needs_key(self) -> DingtalkConfig:
        if self.transport == "stream" and not (self.app_key and self.app_secret.get_secret_value()):
            raise ValueError('transport = "stream" 须同时填写 app_key 与 app_secret（钉钉开发者后台“凭证与基础信息”）')
        return self


class FeishuConfig(Section):
    """``[feishu]``: ``api_base`` for every Feishu request. ``transport = "websocket"`` receives group @-messages
    and 1:1 messages (``im.message.receive_v1``) of the self-built app ``app_id`` over Feishu's long connection
    and answers through the message reply API; ``"none"`` (default) only pushes through custom bots."""

    api_base: str = "https://open.feishu.cn"
    transport: Literal["none", "websocket"] = "none"
    app_id: str = ""
    app_secret: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _websocket_needs_app(self) -> FeishuConfig:
        if self.transport == "websocket" and not (self.app_id and self.app_secret.get_secret_value()):
            raise ValueError(
                'transport = "websocket" 须同时填写 app_id 与 app_secret（飞书开发者后台“凭证与基础信息”）'
            )
        return self


class SandboxConfig(Section):
    """The local sandbox chat (``POST /sandbox/messages``, ``duban say``), where anyone may speak as anyone.

    ``"auto"`` serves it only on a machine that is plainly not a public deployment: the server listens on a
    loopback address and no real inbound channel (WeCom, DingTalk) is configured. ``true`` serves it anyway
    (still to loopback peers only); ``false`` never.
    """

    enabled: Literal["auto"] | bool = "auto"


class GroupConfig(Section):
    name: str = Field(min_length=1)
    platform: Platform
    webhook: str = ""
    secret: SecretStr = SecretStr("")
    chat_id: str = ""
    keywords: list[str] = []
    rate_per_minute: int | None = Field(default=None, ge=1)
    office: bool = False

    @model_validator(mode="after")
    def _webhook_needed(self) -> GroupConfig:
        # A WeCom group named by its chat id alone is posted to through the 智能机器人's long connection.
        if self.platform != "sandbox" and not self.webhook and not (self.platform == "wecom" and self.chat_id):
            raise ValueError(f"群「{self.name}」的平台为 {self.platform}，须填写 webhook")
        return self


class ConsoleConfig(Section):
    """``[console]``: the office's web console under ``/console/`` on the same service.

    ``public_url`` is the address people open (``https://duban.example.gov.cn``, as the reverse proxy serves it);
    sign-in links are built on it. Empty: ``http://HOST:PORT`` of ``[server]``.
    """

    enabled: bool = True
    public_url: str = ""
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, ge=64 * 1024, le=20 * 1024 * 1024)

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("应以 http:// 或 https:// 开头")
        return value.rstrip("/")


class HealthConfig(Section):
    """``[health]``: how long work may wait before ``/healthz`` answers 503 (0 turns that check off)."""

    max_outbox_lag_seconds: int = Field(default=300, ge=0)
    max_inbox_age_seconds: int = Field(default=300, ge=0)


class OutboundConfig(Section):
    """``[outbound]``: how the dispatcher sends (platform rate limits are built in, per group in ``[[groups]]``)."""

    concurrency: int = Field(default=128, ge=1, le=1000)
    read_timeout_seconds: float = Field(default=10.0, ge=1.0, le=120.0)
    give_up_hours: float = Field(default=6.0, ge=0.5, le=168.0)


class FilesConfig(Section):
    """``[files]``: where the files people send are kept, and the limits on them."""

    store: Literal["directory", "database"] = "directory"
    directory: str = "var/files"  # the directory store (relative paths: from the working directory)
    max_megabytes: float = Field(default=50.0, gt=0, le=1024)
    join_window_minutes: int = Field(default=10, ge=0, le=24 * 60)
    extract_max_chars: int = Field(default=200_000, ge=1000, le=5_000_000)
    extract_timeout_seconds: float = Field(default=20.0, ge=1.0, le=300.0)
    # How long an instance holds a file it is fetching; after a crash another takes it over once this runs out.
    fetch_lease_seconds: int = Field(default=300, ge=2, le=3600)

    @property
    def max_bytes(self) -> int:
        return int(self.max_megabytes * 1024 * 1024)


class NetworkConfig(Section):
    """``[network]``: how duban reaches the platforms from a network that only lets it out through a proxy.

    ``proxy`` (``http://host:port``, credentials allowed in the URL) carries every request and websocket to a
    platform; empty means the standard ``HTTPS_PROXY`` / ``HTTP_PROXY`` environment variables, if any. Hosts
    in ``NO_PROXY`` are reached directly either way (a private platform deployment inside the intranet).
    ``ca_file`` (PEM) is trusted besides the system's roots for every platform connection: a private deployment
    whose certificates come from its own CA, or a proxy that inspects TLS.
    """

    proxy: str = ""
    ca_file: str = ""

    _ca_file = field_validator("ca_file")(_check_ca_file)

    @field_validator("proxy")
    @classmethod
    def _http_proxy(cls, value: str) -> str:
        if value and not value.startswith("http://"):
            raise ValueError("应以 http:// 开头，例如 http://10.1.2.3:3128（HTTPS 目标经 CONNECT 隧道转发）")
        return value


class ReportingConfig(Section):
    deadline_day: int = Field(default=25, ge=1, le=28)
    deadline_time: time = time(23, 59, 59)


class Settings(BaseModel):
    """The whole configuration. Field names are the TOML keys.

    Built by :func:`load_settings` from the file and the environment; ``Settings(...)`` and
    ``Settings.model_validate(...)`` take the values given and nothing else. Defaults are validated too (the
    time zone), as pydantic-settings does.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True)

    timezone: str = "Asia/Shanghai"
    office_name: str = "工作机制办公室"
    database: DatabaseConfig = DatabaseConfig()
    server: ServerConfig = ServerConfig()
    wecom: WecomConfig = WecomConfig()
    dingtalk: DingtalkConfig = DingtalkConfig()
    feishu: FeishuConfig = FeishuConfig()
    sandbox: SandboxConfig = SandboxConfig()
    groups: list[GroupConfig] = []
    reporting: ReportingConfig = ReportingConfig()
    schedules: ScheduleSettings = ScheduleSettings()
    health: HealthConfig = HealthConfig()
    outbound: OutboundConfig = OutboundConfig()
    files: FilesConfig = FilesConfig()
    console: ConsoleConfig = ConsoleConfig()
    documents: DocumentSettings = DocumentSettings()
    network: NetworkConfig = NetworkConfig()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"未知时区 {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _unique_group_names(self) -> Settings:
        seen: set[str] = set()
        for group in self.groups:
            if group.name in seen:
                raise ValueError(f"群名「{group.name}」重复")
            seen.add(group.name)
        return self

    @model_validator(mode="after")
    def _chat_id_groups_have_a_bot(self) -> Settings:
        bare = [g.name for g in self.groups if g.platform == "wecom" and not g.webhook]
        if bare and self.wecom.bot.transport != "websocket":
            names = "、".join(bare)
            raise ValueError(
                f"群「{names}」只填了 chat_id、没有 webhook：须开启企业微信智能机器人长连接"
                '（[wecom.bot] transport = "websocket"）经其主动发送，或为该群填写群机器人 webhook'
            )
        return self

    @model_validator(mode="after")
    def _schedule_groups_known(self) -> Settings:
        known = {group.name for group in self.groups}
        for job, config in self.schedules.jobs().items():
            unknown = [name for name in config.groups if name not in known]
            if unknown:
                raise ValueError(f"schedules.{job}.groups 中的群「{'、'.join(unknown)}」未在 [[groups]] 中配置")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def console_url(self) -> str:
        """Where the console is opened (``…/console/``), or ``""`` when it is switched off."""
        if not self.console.enabled:
            return ""
        base = self.console.public_url or f"http://{self.server.host}:{self.server.port}"
        return f"{base}/console/"

    def secret_values(self) -> list[str]:
        """Every secret in the configuration, for the log filter that masks them."""
        found = [
            self.wecom.app.secret,
            self.wecom.app.token,
            self.wecom.app.encoding_aes_key,
            self.wecom.bot.token,
            self.wecom.bot.encoding_aes_key,
            self.wecom.bot.secret,
            self.feishu.app_secret,
            self.dingtalk.app_secret,
            *(group.secret for group in self.groups),
        ]
        values = [secret.get_secret_value() for secret in found]
        values += [_webhook_key(group.webhook) for group in self.groups]
        values.append(_proxy_password(self.network.proxy))
        return [value for value in values if value]


def _webhook_key(url: str) -> str:
    """The credential inside a robot webhook URL (``key=`` for WeCom, ``access_token=`` for DingTalk)."""
    for marker in ("key=", "access_token=", "/hook/"):
        if marker in url:
            return url.split(marker, 1)[1].split("&", 1)[0]
    return ""


def _proxy_password(url: str) -> str:
    """The password in a proxy URL (``http://user:password@host:port``), masked in logs like any secret."""
    authority = url.partition("://")[2].partition("/")[0]
    credentials = authority.rpartition("@")[0]
    return credentials.partition(":")[2]


ENV_PREFIX = "DUBAN_"
ENV_NESTED_DELIMITER = "__"


def _names_a_setting(variable: str) -> bool:
    """Would pydantic-settings' environment source read ``variable``? (``DUBAN_<FIELD>`` or ``DUBAN_<FIELD>__…``,
    any case; ``DUBAN_CONFIG`` and the tests' ``DUBAN_TEST_…`` name no field.)"""
    name = variable.lower()
    prefix = ENV_PREFIX.lower()
    if not name.startswith(prefix):
        return False
    field = name[len(prefix) :].split(ENV_NESTED_DELIMITER, 1)[0]
    return field in Settings.model_fields


def environment_values() -> dict[str, Any]:
    """The settings the environment gives, nested as in the file (``{"server": {"port": "9090"}}``)."""
    if not any(_names_a_setting(variable) for variable in os.environ):
        return {}
    from pydantic_settings import EnvSettingsSource

    source = EnvSettingsSource(
        Settings,  # type: ignore[arg-type]  # the source reads only the model's fields, not BaseSettings' own
        case_sensitive=False,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
    )
    return source()


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``, tables merged key by key (the environment over the file)."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(result.get(key), dict) and isinstance(value, dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        else:
            parts.append(item)
    return ".".join(parts) or "(根)"


_MESSAGES = {
    "extra_forbidden": "未知的配置项（请检查拼写）",
    "missing": "缺少必填项",
    "less_than_equal": "不能大于 {le}",
    "greater_than_equal": "不能小于 {ge}",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为字符串（加引号）",
    "string_too_short": "不能为空",
    "literal_error": "取值应为 {expected} 之一",
    "time_parsing": "应为时刻，例如 23:59:59",
    "time_type": "应为时刻，例如 23:59:59",
    "list_type": "应为列表",
    "model_type": "应为一节配置（表）",
    "model_attributes_type": "应为一节配置（表）",
}
_SECRET_KEYS = ("secret", "token", "aes_key", "password")


def _describe(error: Any) -> str:
    key = _location(tuple(error["loc"]))
    value = error.get("input")
    template = _MESSAGES.get(error["type"])
    if template is not None:
        message = template.format(**error.get("ctx", {}))
    else:
        message = error["msg"].removeprefix("Value error, ")
    if error["type"] in ("extra_forbidden", "missing") or isinstance(value, dict | list):
        return f"{key}: {message}"
    if any(word in key for word in _SECRET_KEYS):
        return f"{key}: {message}（取值已隐去）"
    return f"{key}: {message}（当前值 {value!r}）"


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate the configuration, or raise :class:`ConfigError` listing every problem.

    A file named explicitly (``--config`` or ``$DUBAN_CONFIG``) must exist; without one, a missing
    ``./duban.toml`` means defaults and environment variables only.
    """
    config_path = resolve_config_path(path)
    explicit = bool(path) or "DUBAN_CONFIG" in os.environ
    values: dict[str, Any] = {}
    if not config_path.exists():
        if explicit:
            raise ConfigError(config_path, ["文件不存在；可运行 `duban init` 生成"])
    else:
        try:
            with config_path.open("rb") as handle:
                values = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(config_path, [f"不是合法的 TOML：{exc}"]) from None
        except OSError as exc:
            raise ConfigError(config_path, [f"无法读取：{exc.strerror}"]) from None
    try:
        return Settings.model_validate(merged(values, environment_values()))
    except ValidationError as exc:
        raise ConfigError(config_path, [_describe(error) for error in exc.errors()]) from None
