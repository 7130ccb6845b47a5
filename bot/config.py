"""Operator settings, from the environment and a ``.env`` file (names fixed by DESIGN.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.domain.catalog import DEFAULT_TEMPLATE, Catalog, CatalogProblems, load_catalog
from bot.domain.links import LinkTemplates, check_url_template
from bot.domain.reminder_policy import ReminderPolicy, parse_day_thresholds, parse_workdays, parse_working_hours
from bot.domain.template import Role
from bot.ratelimit import Rate, parse_rate_limits, rate_limits
from storage.db import POOL_SIZE
from storage.tokens import BadKey, TokenCipher

_CHANNEL = r"(T[A-Z0-9]{2,}:)?[CG][A-Z0-9]{2,}"
_INSIGHTS_CHANNELS = rf"^{_CHANNEL}(\s*,\s*{_CHANNEL})*$"


class ConfigError(Exception):
    """One line naming the variable, for the operator."""


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


_LINKED = {
    "trace_url_template": Role.TRACE_ID,
    "session_url_template": Role.SESSION_ID,
    "change_url_template": Role.CHANGE_ID,
}


class LogSettings(BaseSettings):
    """Read before any command runs, so that every command logs as asked."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class StorageSettings(BaseSettings):
    """Enough for the commands that only touch the database and the templates (migrate, export, import)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///postmortem-bot.db"
    database_pool_size: int = Field(default=POOL_SIZE, ge=1, le=1000)
    postmortem_templates: Path | None = None
    postmortem_default_template: str = DEFAULT_TEMPLATE
    postmortem_severities: str | None = None
    postmortem_incident_statuses: str | None = None
    postmortem_statuses: str | None = None
    trace_url_template: str = ""
    session_url_template: str = ""
    change_url_template: str = ""

    @field_validator("postmortem_severities", "postmortem_incident_statuses", "postmortem_statuses")
    @classmethod
    def _non_empty_list(cls, value: str | None) -> str | None:
        if value is not None and not _csv(value):
            raise ValueError("needs at least one comma-separated value")
        return value

    @field_validator("trace_url_template", "session_url_template", "change_url_template")
    @classmethod
    def _url_template(cls, value: str, info: ValidationInfo) -> str:
        return check_url_template(value.strip(), _LINKED[info.field_name or ""]) if value.strip() else ""

    @property
    def link_templates(self) -> LinkTemplates:
        """The artifact ids the card, the modals and the Markdown export link (``bot.domain.links``)."""
        templates = {role: getattr(self, name) for name, role in _LINKED.items()}
        return LinkTemplates({role: value for role, value in templates.items() if value})

    @property
    def vocabulary_overrides(self) -> dict[str, tuple[str, ...]]:
        """The operator's lists, over the template vocabularies of these names."""
        lists = {
            "severity": self.postmortem_severities,
            "incident_status": self.postmortem_incident_statuses,
            "postmortem_status": self.postmortem_statuses,
        }
        return {name: _csv(value) for name, value in lists.items() if value}

    def catalog(self) -> Catalog:
        """The templates on offer; ``ConfigError`` with one ``FILE:line: reason`` line per problem."""
        try:
            return load_catalog(self.postmortem_templates, self.postmortem_default_template, self.vocabulary_overrides)
        except CatalogProblems as exc:
            raise ConfigError("\n".join(exc.lines)) from None

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        """``postgres://`` is what many hosts hand out; SQLAlchemy itself only knows ``postgresql://``."""
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError(f"not a database URL: {value!r}") from None
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"use sqlite:///file.db or postgresql://…, not {backend}")
        return value


_OAUTH = ("slack_client_id", "slack_client_secret", "slack_state_secret")
NO_MODE = (
    "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET "
    "and SLACK_STATE_SECRET (OAuth install for several workspaces)"
)


class Settings(StorageSettings):
    slack_bot_token: str | None = Field(default=None, pattern=r"^xoxb-\S+$")
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_state_secret: str | None = None
    token_encryption_key: str | None = None
    """Fernet keys, comma-separated: the first encrypts the tokens OAuth installs leave, all decrypt."""
    slack_signing_secret: str | None = None
    slack_app_token: str | None = Field(default=None, pattern=r"^xapp-\S+$")
    slack_api_url: str = "https://slack.com/api/"
    slack_rate_limits: str = ""
    port: int = Field(default=3000, ge=1, le=65535)
    reminder_sweep_minutes: float = Field(default=15, gt=0)
    reminder_due_soon_days: str = "3,1"
    reminder_overdue_escalate_days: int = Field(default=3, ge=1)
    reminder_unowned_grace_hours: float = Field(default=1, ge=0)
    reminder_working_hours: str = "09:00-18:00"
    reminder_workdays: str = "mon-fri"
    postmortem_canvas: bool = False
    """``on``: each postmortem is kept as its channel's canvas too (``handlers.support.canvas``)."""
    timeline_reaction: str = Field(default="pushpin", pattern=r"^[a-z0-9_+'-]+$")
    insights_channel: str | None = Field(default=None, pattern=_INSIGHTS_CHANNELS)
    """The channel of the weekly insights post (an id: names change, ids do not); unset, no post.
    With the OAuth install, one ``TEAM:CHANNEL`` per workspace that gets a post, comma-separated."""
    insights_tz: str = "UTC"
    """The zone whose Monday 09:00 the weekly post keeps."""

    @field_validator("insights_tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not a time zone: {value!r} (use a name like Europe/Berlin)") from None
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_rate_limits")
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        parse_rate_limits(value)
        return value

    @field_validator("reminder_due_soon_days")
    @classmethod
    def _days(cls, value: str) -> str:
        parse_day_thresholds(value)
        return value

    @field_validator("reminder_working_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_working_hours(value)
        return value

    @field_validator("reminder_workdays")
    @classmethod
    def _workdays(cls, value: str) -> str:
        parse_workdays(value)
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> Settings:
        """One workspace (``SLACK_BOT_TOKEN``), or the OAuth install, whose tokens are kept encrypted."""
        given = [name for name in _OAUTH if getattr(self, name)]
        if not given and not self.slack_bot_token:
            raise ValueError(NO_MODE)
        if given and len(given) < len(_OAUTH):
            missing = next(name for name in _OAUTH if name not in given)
            raise ValueError(f"{missing.upper()} is required for the OAuth install (with {given[0].upper()})")
        if given and not self.token_encryption_key:
            raise ValueError("TOKEN_ENCRYPTION_KEY is required for the OAuth install (see README, Several workspaces)")
        if given and self.socket_mode:
            raise ValueError("the OAuth install needs HTTP mode: unset SLACK_APP_TOKEN")
        return self

    @model_validator(mode="after")
    def _http_needs_secret(self) -> Settings:
        if not self.slack_app_token and not self.slack_signing_secret:
            raise ValueError("SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)")
        return self

    @field_validator("token_encryption_key")
    @classmethod
    def _keys(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                TokenCipher(_csv(value))
            except BadKey as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def oauth(self) -> bool:
        """Installed through ``/slack/install`` in any number of workspaces, a token each."""
        return bool(self.slack_client_id)

    @model_validator(mode="after")
    def _insights_per_workspace(self) -> Settings:
        if self.oauth and any(team is None for team, _ in self.insights_targets):
            raise ValueError("INSIGHTS_CHANNEL: with the OAuth install, name each workspace's channel as TEAM:CHANNEL")
        return self

    @property
    def insights_targets(self) -> tuple[tuple[str | None, str], ...]:
        """(workspace, channel) of each weekly post; the workspace is None where it is the one installed."""
        entries = (entry.partition(":") for entry in _csv(self.insights_channel or ""))
        return tuple((team, channel) if channel else (None, team) for team, _, channel in entries)

    @property
    def token_cipher(self) -> TokenCipher:
        return TokenCipher(_csv(self.token_encryption_key or ""))

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def rate_limits(self) -> dict[str, Rate]:
        """Slack's published limits per Web API method, with ``SLACK_RATE_LIMITS`` over them."""
        return rate_limits(self.slack_rate_limits)

    @property
    def reminder_policy(self) -> ReminderPolicy:
        return ReminderPolicy(
            due_soon_days=parse_day_thresholds(self.reminder_due_soon_days),
            overdue_escalate_days=self.reminder_overdue_escalate_days,
            unowned_grace=timedelta(hours=self.reminder_unowned_grace_hours),
            working_hours=parse_working_hours(self.reminder_working_hours),
            workdays=parse_workdays(self.reminder_workdays),
        )


S = TypeVar("S", bound=StorageSettings)


def _describe(error: dict[str, object]) -> str:
    location = error.get("loc") or ()
    name = str(location[0]).upper() if location else ""
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"{name} is required"
    if error.get("type") == "string_pattern_mismatch" and name == "INSIGHTS_CHANNEL":
        return (
            f"{name} must be a channel id (C… or G…, from the channel's details), not a name; "
            "with the OAuth install, TEAM:CHANNEL for each workspace"
        )
    if error.get("type") == "string_pattern_mismatch":
        prefix = "xapp-" if name == "SLACK_APP_TOKEN" else "xoxb-"
        return f"{name} must be a token starting with {prefix}"
    return f"{name}: {message}" if name else message


def load_settings(kind: type[S] = Settings, **overrides: object) -> S:  # type: ignore[assignment]
    """Settings, or ``ConfigError`` with one line that names the offending variable."""
    try:
        return kind(**overrides)
    except ValidationError as exc:
        raise ConfigError("configuration error: " + _describe(exc.errors()[0])) from None
