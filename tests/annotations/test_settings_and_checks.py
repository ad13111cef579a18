"""Settings are read from the environment with clear refusals; system checks catch misconfiguration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks

from rhino_web.env import database_from_url

ROOT = Path(__file__).resolve().parents[2]


def _import_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RHINO_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"))
    }
    return subprocess.run(
        [sys.executable, "-c", "import rhino_web.settings as s; print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], s.SESSION_COOKIE_SECURE if hasattr(s, 'SESSION_COOKIE_SECURE') else None)"],
        env={**clean, **env}, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_secret_key_is_required_outside_debug(tmp_path) -> None:
    result = _import_settings({"RHINO_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_allowed_hosts_star_is_refused(tmp_path) -> None:
    result = _import_settings(
        {"RHINO_DEBUG": "1", "ALLOWED_HOSTS": "*", "RHINO_VAR_DIR": str(tmp_path)}
    )
    assert result.returncode != 0 and "'*' is not accepted" in result.stderr


def test_embedded_defaults_and_scale_out_switches(tmp_path) -> None:
    default = _import_settings({"RHINO_DEBUG": "1", "RHINO_VAR_DIR": str(tmp_path)})
    assert default.stdout.split() == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "None",
    ]
    scaled = _import_settings({
        "SECRET_KEY": "x" * 50, "RHINO_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "postgres://u:p@db.example:5433/rhino", "REDIS_URL": "redis://127.0.0.1:6379/1",
    })  # fmt: skip
    assert scaled.stdout.split() == [
        "django.db.backends.postgresql",
        "channels_redis.core.RedisChannelLayer",
        "True",
    ]


def test_bad_boolean_is_refused(tmp_path) -> None:
    result = _import_settings({"RHINO_DEBUG": "maybe", "RHINO_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0 and "RHINO_DEBUG must be one of" in result.stderr


def test_database_url_parsing() -> None:
    db = database_from_url(
        "postgresql://al%40ice:s%2Fecret@127.0.0.1:5432/test?sslmode=require",
        sqlite_default=Path("x"),
    )
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "al@ice",
        "s/ecret",
        "127.0.0.1",
        "5432",
        "test",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}
    assert database_from_url("", sqlite_default=Path("/v/db"))["NAME"] == Path("/v/db")
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="mysql"):
        database_from_url("mysql://x/y", sqlite_default=Path("x"))


def _ids() -> set[str]:
    return {message.id for message in run_checks(tags=["rhino"]) if message.id}


def test_in_memory_layer_with_several_workers_is_e001(settings) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.RHINO_WORKERS = 2
    assert "rhino.E001" in _ids()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    assert "rhino.E001" not in _ids()


def test_missing_audit_key_is_e002_and_short_key_e003(settings) -> None:
    settings.RHINO_AUDIT_KEY = ""
    assert "rhino.E002" in _ids()
    settings.RHINO_AUDIT_KEY = "short"
    assert "rhino.E003" in _ids()


def test_missing_signing_key_is_e004_outside_debug(settings, tmp_path) -> None:
    settings.DEBUG = False
    settings.RHINO_SIGNING_KEY_FILE = tmp_path / "missing.pem"
    assert "rhino.E004" in _ids()
    from annotations.signing import signing_key_create

    signing_key_create(settings.RHINO_SIGNING_KEY_FILE)
    assert "rhino.E004" not in _ids()


def test_sqlite_with_several_workers_is_w001(settings) -> None:
    settings.RHINO_WORKERS = 3
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    with pytest.warns(UserWarning, match="Overriding setting DATABASES"):
        settings.DATABASES = {
            "default": {**settings.DATABASES["default"], "ENGINE": "django.db.backends.sqlite3"}
        }
    assert "rhino.W001" in _ids()
