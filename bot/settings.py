"""Typed settings, read once from the environment (and an optional `.env`).

Every setting is listed in the README's configuration table; add a field here and a row there together.
A bad value stops start-up with one line naming the variable (see `load_settings`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError

_REPO_ROOT = Path(__file__).resolve().parent.parent
_PACKAGED = Path(__file__).resolve().parent / "_data"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}

CsvList = Annotated[list[str], NoDecode]


def parse_duration(text: str) -> timedelta:
    """`90`, `90s`, `30m`, `2h`, `1d` → timedelta; raises ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration (use e.g. 90s, 30m, 2h): {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


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
    slack_responders_critical: CsvList = Field(default_factory=list)
    slack_responders_high: CsvList = Field(default_factory=list)

    pagerduty_routing_key: str = ""
    pagerduty_events_url: str = "https://events.pagerduty.com"

    logs_backend: Literal["local", "cloudwatch"] = "local"
    local_logs: str = "logs/*.jsonl"
    log_groups: CsvList = Field(default_factory=lambda: ["/orders-pipeline/flink"])
    query_timeout: timedelta = timedelta(seconds=60)
    aws_region: str = "us-east-1"

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("sns_topic_arns", "slack_responders_critical", "slack_responders_high", "log_groups",
                     mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("reopen_window", "correlation_window", "storm_window", "ack_timeout", "investigate_timeout",
                     "query_timeout", "sns_cert_timeout", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value)
        return value

    @field_validator("sns_signing_cert_file")
    @classmethod
    def _cert_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return value

    @property
    def slack_configured(self) -> bool:
        """True when a bot token is set; otherwise chat runs record-only."""
        return bool(self.slack_bot_token)

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
