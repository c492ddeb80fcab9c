"""Tracemark's settings: one typed object, read once at start-up and passed in."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "TRACEMARK_"


class ConfigError(Exception):
    """A setting is missing, unknown or invalid; the message says which and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = Field(
        default_factory=lambda: Path.home() / ".tracemark",
        description="Where the SQLite database and the generated secret key live.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means a SQLite file in the data directory.",
    )
    secret_key: str = Field(
        default="",
        description="Signs CSRF tokens; generated and kept in the data directory when empty.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)
    public_url: str = Field(default="", description="Base URL users reach Tracemark at.")
    workers: int = Field(default=1, ge=1, le=64)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    session_days: int = Field(default=14, ge=1, le=365)
    secure_cookies: bool = Field(
        default=False, description="Mark cookies Secure (set when served over HTTPS)."
    )

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        if value.startswith("postgres://") or value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; plain postgresql:// would pick psycopg2.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'tracemark.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def to_env(self) -> dict[str, str]:
        """The settings as TRACEMARK_* variables, for worker processes started by uvicorn."""
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            env[ENV_PREFIX + name.upper()] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
        return env


def _unknown_env_vars(environ: dict[str, str]) -> list[str]:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(k for k in environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from TRACEMARK_* variables plus explicit overrides.

    Raises ConfigError with a one-line message for unknown variables and invalid values,
    and makes sure the data directory and the secret key exist.
    """
    unknown = _unknown_env_vars(dict(os.environ))
    if unknown:
        raise ConfigError(
            f"unknown setting {', '.join(unknown)}; known settings are "
            + ", ".join(ENV_PREFIX + n.upper() for n in Settings.model_fields)
        )
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**clean)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {err['msg']}")
        raise ConfigError("invalid setting " + "; ".join(problems)) from None
    return _with_secret_key(settings)


def _with_secret_key(settings: Settings) -> Settings:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create data directory {settings.data_dir}: {exc.strerror}"
        ) from None
    if settings.secret_key:
        return settings
    key_file = settings.data_dir / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    key = key_file.read_text().strip()
    if len(key) < 32:
        raise ConfigError(f"secret key in {key_file} is too short; delete it to regenerate")
    return settings.model_copy(update={"secret_key": key})
