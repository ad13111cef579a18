"""Gateway configuration: TOML, environment overrides, validation that names the key at fault."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from site_gateway.config import ConfigError, load_config
from site_gateway.grants import public_key_b64, public_key_from_b64
from site_gateway.keys import EnrollmentError, enroll, load_central_key, load_keys

TOML = """
site = "st-elsewhere"
central_url = "wss://central.example.org"
pacs_url = "dimse://PACS@10.0.0.5:104?calling=RHINO"
state_dir = "state"
projects = ["lung-nodules", "liver"]
cache_memory_bytes = 268435456
heartbeat_seconds = 5
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(TOML)
    return path


def test_a_toml_file_is_read_with_paths_relative_to_it(config_file: Path) -> None:
    config = load_config(config_file, env={})
    assert config.site == "st-elsewhere"
    assert config.state_dir == config_file.parent / "state"
    assert config.projects == frozenset({"lung-nodules", "liver"})
    assert config.cache_memory_bytes == 256 * 2**20 and config.heartbeat_seconds == 5.0
    assert config.workers == (os.cpu_count() or 2)
    assert config.control_url == "wss://central.example.org/ws/gateway/"
    assert config.data_url("abc") == "wss://central.example.org/ws/gateway/sessions/abc/"
    assert config.serves_project("liver") and not config.serves_project("brain")


def test_environment_variables_override_any_key(config_file: Path) -> None:
    env = {
        "RHINO_GW_SITE": "other",
        "RHINO_GW_PROJECTS": "*",
        "RHINO_GW_WORKERS": "3",
        "RHINO_GW_HEARTBEAT_SECONDS": "2.5",
        "RHINO_GW_UNRELATED": "ignored",
        "PATH": "/bin",
    }
    config = load_config(config_file, env=env)
    assert config.site == "other" and config.workers == 3 and config.heartbeat_seconds == 2.5
    assert config.projects is None and config.serves_project("anything")
    only_env = {
        "RHINO_GW_SITE": "s",
        "RHINO_GW_CENTRAL_URL": "ws://localhost:8000",
        "RHINO_GW_PACS_URL": "folder:/data",
        "RHINO_GW_STATE_DIR": "/var/lib/rhino",
        "RHINO_GW_PROJECTS": "a, b",
    }
    config = load_config(None, env=only_env)
    assert config.projects == frozenset({"a", "b"}) and config.state_dir == Path("/var/lib/rhino")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RHINO_GW_CENTRAL_URL": "http://central"}, "ws:// or wss://"),
        ({"RHINO_GW_WORKERS": "many"}, "workers must be a int"),
        ({"RHINO_GW_WORKERS": "0"}, "workers must be positive"),
        ({"RHINO_GW_PROJECTS": ""}, "projects is empty"),
        ({"RHINO_GW_SITE": ""}, "missing required keys ['site']"),
    ],
)
def test_bad_values_are_refused_naming_the_key(
    config_file: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(config_file, env=env)


def test_unknown_keys_and_bad_toml_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text(TOML + 'pacs_ulr = "typo"\n')
    with pytest.raises(ConfigError, match="unknown keys \\['pacs_ulr'\\]"):
        load_config(path, env={})
    path.write_text("site = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, env={})
    with pytest.raises(ConfigError, match="no configuration file"):
        load_config(tmp_path / "missing.toml", env={})


def test_enroll_creates_private_keys_once_and_pins_central(config_file: Path) -> None:
    config = load_config(config_file, env={})
    with pytest.raises(EnrollmentError, match="enroll"):
        load_keys(config)
    first = enroll(config)
    assert first.created_key and first.created_secret and not first.pinned_central
    for path in (config.key_path, config.secret_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(EnrollmentError, match="not pinned"):
        load_keys(config)
    central = public_key_b64(public_key_from_b64("A" * 43 + "="))
    again = enroll(config, central)
    assert again.public_key == first.public_key and not again.created_key and again.pinned_central
    assert public_key_b64(load_central_key(config)) == central
    keys = load_keys(config)
    assert keys.handle_key != keys.audit_key and len(keys.secret) == 32
    with pytest.raises(EnrollmentError, match="not a base64 Ed25519"):
        enroll(config, "not a key")


def test_a_world_readable_key_is_refused(config_file: Path) -> None:
    config = load_config(config_file, env={})
    enroll(config, public_key_b64(public_key_from_b64("A" * 43 + "=")))
    config.key_path.chmod(0o644)
    with pytest.raises(EnrollmentError, match="chmod 600"):
        load_keys(config)
