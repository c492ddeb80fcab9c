from __future__ import annotations

from pathlib import Path

import pytest

from tracemark.config import ConfigError, load_settings


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path)
    second = load_settings(data_dir=tmp_path)
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'tracemark.db'}"
    assert settings.is_sqlite


def test_unknown_setting_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEMARK_DATABSE_URL", "sqlite://")
    with pytest.raises(ConfigError, match="unknown setting TRACEMARK_DATABSE_URL"):
        load_settings(data_dir=tmp_path)


def test_invalid_value_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEMARK_PORT", "seventy")
    with pytest.raises(ConfigError, match="TRACEMARK_PORT"):
        load_settings(data_dir=tmp_path)


def test_bad_database_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL: .*sqlite:// or postgresql"):
        load_settings(data_dir=tmp_path, database_url="mysql://x")


def test_plain_postgres_url_uses_psycopg3(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, database_url="postgresql://u@h/db")
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"


def test_env_round_trip_for_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(data_dir=tmp_path, port=4321, workers=3)
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    again = load_settings()
    assert again == settings
