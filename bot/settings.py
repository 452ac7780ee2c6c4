"""Typed settings, read once from the environment (and an optional `.env`).

Every setting is listed in the README's configuration table; add a field here and a row there together.
A bad value stops start-up with one line naming the variable (see `load_settings`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError

_REPO_ROOT = Path(__file__).resolve().parent.parent
_PACKAGED = Path(__file__).resolve().parent / "_data"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}

CsvList = Annotated[list[str], NoDecode]
MIN_SESSION_SECRET = 32


def parse_duration(text: str) -> timedelta:
    """`90`, `90s`, `30m`, `2h`, `1d` → timedelta; raises ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration (use e.g. 90s, 30m, 2h): {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLOT = re.compile(r"^\s*(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s+([01]?\d|2[0-3]):([0-5]\d)\s*$", re.IGNORECASE)


def parse_weekly_slot(text: str) -> tuple[int, int, int] | None:
    """`mon 09:00` → (weekday 0-6, hour, minute) in UTC; `off` → None; raises ValueError otherwise."""
    if text.strip().lower() in ("off", "none", ""):
        return None
    match = _SLOT.match(text)
    if not match:
        raise ValueError(f"not a weekly time (use e.g. 'mon 09:00' in UTC, or 'off'): {text!r}")
    return _DAYS.index(match.group(1).lower()[:3]), int(match.group(2)), int(match.group(3))


def _data_dir(name: str) -> Path:
    """The repo's `runbooks/` or `queries/` in a checkout, the packaged copy in an installed wheel."""
    in_repo = _REPO_ROOT / name
    return in_repo if in_repo.is_dir() else _PACKAGED / name


class Settings(BaseSettings):
    """Everything incident-bot reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str = "sqlite:///incident-bot.db"
    public_url: str = "http://localhost:8080"

    sns_topic_arns: CsvList = Field(default_factory=list)
    sns_signing_cert_file: Path | None = None
    sns_cert_timeout: timedelta = timedelta(seconds=3)
    sns_dlq_url: str = ""

    alarm_prefix: str = "orders-pipeline-"
    unknown_alarm_severity: Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"] = "HIGH"
    reopen_window: timedelta = timedelta(minutes=30)
    correlation_window: timedelta = timedelta(minutes=15)
    storm_threshold: int = Field(default=10, ge=1)
    storm_window: timedelta = timedelta(minutes=5)
    ack_timeout: timedelta = timedelta(minutes=5)
    investigate_timeout: timedelta = timedelta(hours=1)
    runbooks_dir: Path = Field(default_factory=lambda: _data_dir("runbooks"))
    queries_dir: Path = Field(default_factory=lambda: _data_dir("queries"))
    runbook_base_url: str = ""
    dashboard_prefix: str = "orders-pipeline"

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_api_url: str = "https://slack.com/api/"
    slack_alerts_channel: str = "#alerts"
    slack_incidents_channel: str = "#incidents"
    slack_responders_critical: CsvList = Field(default_factory=list)
    slack_responders_high: CsvList = Field(default_factory=list)
    slack_client_id: str = ""
    slack_client_secret: str = ""
    slack_team_id: str = ""
    slack_oidc_url: str = "https://slack.com"
    slack_timeout: timedelta = timedelta(seconds=10)

    web_session_secret: str = ""
    api_tokens: CsvList = Field(default_factory=list)
    metrics_public: bool = False

    pagerduty_routing_key: str = ""
    pagerduty_events_url: str = "https://events.pagerduty.com"
    pagerduty_webhook_secrets: CsvList = Field(default_factory=list)
    pagerduty_api_token: str = ""
    pagerduty_api_url: str = "https://api.pagerduty.com"

    logs_backend: Literal["local", "cloudwatch"] = "local"
    local_logs: str = "logs/*.jsonl"
    log_groups: CsvList = Field(default_factory=lambda: ["/orders-pipeline/flink"])
    query_timeout: timedelta = timedelta(seconds=60)
    metrics_backend: Literal["local", "cloudwatch"] = "local"
    local_metrics: Path = Path("metrics")
    canary_every: timedelta = timedelta(seconds=60)
    health_watch_every: timedelta = timedelta(seconds=60)
    aws_region: str = "us-east-1"
    quality_report_at: str = "mon 09:00"
    replica_id: str = ""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("sns_topic_arns", "slack_responders_critical", "slack_responders_high", "log_groups",
                     "pagerduty_webhook_secrets", "api_tokens", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("reopen_window", "correlation_window", "storm_window", "ack_timeout", "investigate_timeout",
                     "query_timeout", "sns_cert_timeout", "canary_every", "health_watch_every", "slack_timeout",
                     mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value)
        return value

    @field_validator("quality_report_at")
    @classmethod
    def _weekly_slot(cls, value: str) -> str:
        parse_weekly_slot(value)
        return value

    @field_validator("sns_signing_cert_file")
    @classmethod
    def _cert_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("sns_dlq_url")
    @classmethod
    def _queue_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an SQS queue URL such as https://sqs.REGION.amazonaws.com/ACCOUNT/NAME")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return value

    @field_validator("slack_oidc_url")
    @classmethod
    def _oidc_base(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://slack.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _sign_in_complete(self) -> Settings:
        if self.slack_client_id:
            missing = [name for name, value in (("SLACK_CLIENT_SECRET", self.slack_client_secret),
                                                ("SLACK_TEAM_ID", self.slack_team_id),
                                                ("WEB_SESSION_SECRET", self.web_session_secret)) if not value]
            if missing:
                raise ValueError(f"sign-in with Slack (SLACK_CLIENT_ID) also needs {', '.join(missing)}")
        if self.web_session_secret and len(self.web_session_secret) < MIN_SESSION_SECRET:
            raise ValueError(f"WEB_SESSION_SECRET must be at least {MIN_SESSION_SECRET} characters")
        return self

    @property
    def sign_in_configured(self) -> bool:
        """True when people sign in to the web view with Slack."""
        return bool(self.slack_client_id)

    @property
    def web_open_to_loopback(self) -> bool:
        """True when neither sign-in nor API tokens are configured: pages and API answer loopback clients only."""
        return not self.sign_in_configured and not self.api_tokens

    @property
    def slack_configured(self) -> bool:
        """True when a bot token is set; otherwise chat runs record-only."""
        return bool(self.slack_bot_token)

    @property
    def pagerduty_webhooks_configured(self) -> bool:
        """True when at least one webhook signing secret is set (`POST /pagerduty/webhook` answers 503 without)."""
        return bool(self.pagerduty_webhook_secrets)

    @property
    def quality_report_slot(self) -> tuple[int, int, int] | None:
        """When the weekly alert-quality report is due: (weekday, hour, minute) UTC, None when `off`."""
        return parse_weekly_slot(self.quality_report_at)

    @property
    def paging_configured(self) -> bool:
        """True when a PagerDuty routing key is set."""
        return bool(self.pagerduty_routing_key)


def load_settings(**overrides: object) -> Settings:
    """Read settings once; raises ConfigError with one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"bad configuration: {problems}") from None
