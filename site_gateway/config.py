"""Gateway configuration: one TOML file, any key overridable by ``RHINO_GW_<KEY>`` variables.

Everything the gateway keeps lives under ``state_dir`` (keys, the handle secret, the SQLite stores,
the instance cache and the site audit log), so one directory is what an operator backs up.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

ENV_PREFIX: Final = "RHINO_GW_"
_MIB: Final = 1024 * 1024


class ConfigError(ValueError):
    """The configuration is unusable; the message names the key and what would be valid."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    site: str  # the site slug central knows this gateway by
    central_url: str  # ws(s)://host[:port] — the gateway endpoints hang below it (/ws/gateway/)
    pacs_url: str  # folder:PATH, dimse://AE@host:port, dicomweb+http(s)://…
    state_dir: Path
    cache_disk_bytes: int = 20 * 1024 * _MIB
    cache_memory_bytes: int = 1024 * _MIB
    # Site policy: the projects whose grants this site honours; "*" = every project.
    projects: frozenset[str] | None = None  # None means "*"
    workers: int = field(default_factory=lambda: os.cpu_count() or 2)
    heartbeat_seconds: float = 10.0
    pacs_echo_seconds: float = 30.0
    pacs_echo_timeout: float = 10.0
    reconnect_cap_seconds: float = 30.0
    digest_seconds: float = 60.0  # how often the site audit digest goes to central (issue 9)
    log_level: str = "INFO"

    # -- derived paths ---------------------------------------------------------------------

    @property
    def key_path(self) -> Path:
        return self.state_dir / "gateway_ed25519.pem"

    @property
    def central_key_path(self) -> Path:
        return self.state_dir / "central_ed25519.pub"

    @property
    def secret_path(self) -> Path:
        """32 random bytes: the handle HMAC key and (derived) the audit chain key."""
        return self.state_dir / "site_secret.bin"

    @property
    def handles_path(self) -> Path:
        return self.state_dir / "handles.sqlite"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    @property
    def labels_path(self) -> Path:
        """The label store and outbox (write-back)."""
        return self.state_dir / "labels.sqlite"

    @property
    def audit_path(self) -> Path:
        return self.state_dir / "audit.sqlite"

    def serves_project(self, project: str) -> bool:
        return self.projects is None or project in self.projects

    @property
    def control_url(self) -> str:
        return self.central_url.rstrip("/") + "/ws/gateway/"

    def data_url(self, session: str) -> str:
        return self.central_url.rstrip("/") + f"/ws/gateway/sessions/{session}/"


_INT_KEYS: Final = ("cache_disk_bytes", "cache_memory_bytes", "workers")
_FLOAT_KEYS: Final = (
    "heartbeat_seconds",
    "pacs_echo_seconds",
    "pacs_echo_timeout",
    "reconnect_cap_seconds",
    "digest_seconds",
)
_STR_KEYS: Final = ("site", "central_url", "pacs_url", "state_dir", "log_level")
KNOWN_KEYS: Final = frozenset((*_INT_KEYS, *_FLOAT_KEYS, *_STR_KEYS, "projects"))


def _env_values(env: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for name, value in env.items():
        if name.startswith(ENV_PREFIX):
            key = name.removeprefix(ENV_PREFIX).lower()
            if key in KNOWN_KEYS:
                values[key] = value
    return values


def _projects(value: object) -> frozenset[str] | None:
    if isinstance(value, str):
        # From the environment: "*" or a comma-separated list of slugs.
        items = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ConfigError('projects must be "*" or a list of project slugs')
    if "*" in items:
        return None
    if not items:
        # An empty list would silently refuse every session: say so instead.
        raise ConfigError('projects is empty; list the project slugs this site serves, or "*"')
    return frozenset(items)


def _number(key: str, value: object, kind: type[int] | type[float]) -> Any:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = kind(value)  # type: ignore[call-overload,arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a {kind.__name__}, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{key} must be positive, got {value!r}")
    return number


def config_from_mapping(data: Mapping[str, Any], *, base_dir: Path | None = None) -> GatewayConfig:
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"unknown keys {unknown}; known keys are {sorted(KNOWN_KEYS)}")
    missing = [k for k in ("site", "central_url", "pacs_url", "state_dir") if not data.get(k)]
    if missing:
        raise ConfigError(f"missing required keys {missing}")
    kwargs: dict[str, Any] = {}
    for key in _STR_KEYS:
        if key in data:
            if not isinstance(data[key], str):
                raise ConfigError(f"{key} must be a string")
            kwargs[key] = data[key]
    for key in _INT_KEYS:
        if key in data:
            kwargs[key] = _number(key, data[key], int)
    for key in _FLOAT_KEYS:
        if key in data:
            kwargs[key] = _number(key, data[key], float)
    if "projects" in data:
        kwargs["projects"] = _projects(data["projects"])
    scheme = urlsplit(kwargs["central_url"]).scheme
    if scheme not in ("ws", "wss"):
        raise ConfigError(f"central_url must be ws:// or wss://, got {kwargs['central_url']!r}")
    state_dir = Path(kwargs["state_dir"]).expanduser()
    if not state_dir.is_absolute() and base_dir is not None:
        state_dir = base_dir / state_dir  # relative to the config file, not to the cwd
    kwargs["state_dir"] = state_dir
    return GatewayConfig(**kwargs)


def load_config(
    path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> GatewayConfig:
    """The TOML file at ``path`` (optional when the environment says everything), env on top."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    base_dir = None
    if path is not None:
        file = Path(path)
        try:
            with open(file, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"no configuration file at {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file} is not valid TOML: {exc}") from None
        base_dir = file.resolve().parent
    data.update(_env_values(env))
    return config_from_mapping(data, base_dir=base_dir)
