"""Start the real gateway service against a FakeCentral and a PACS, for the link tests."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from site_gateway.config import GatewayConfig, config_from_mapping
from site_gateway.grants import public_key_b64, public_key_from_b64
from site_gateway.keys import enroll
from site_gateway.pacs import Pacs
from site_gateway.service import Gateway
from tests.site_gateway.fake_central import PROJECT, SITE, FakeCentral


@dataclass
class GatewayEnv:
    gateway: Gateway
    central: FakeCentral
    config: GatewayConfig

    def series_handle(self, study_uid: str, series_uid: str) -> str:
        """Register a series the way a catalogue sync would, and return its handle."""
        return self.gateway.handles.add_series(study_uid, series_uid)


def make_config(state_dir: Path, pacs_url: str, **overrides: Any) -> GatewayConfig:
    values: dict[str, Any] = {
        "site": SITE,
        "central_url": "ws://127.0.0.1:9",  # replaced once the fake central has a port
        "pacs_url": pacs_url,
        "state_dir": str(state_dir),
        "projects": [PROJECT],
        "reconnect_cap_seconds": 0.5,
        "heartbeat_seconds": 1.0,
        "workers": 2,
    }
    values.update(overrides)
    return config_from_mapping(values)


@asynccontextmanager
async def gateway_env(
    state_dir: Path, pacs_url: str, *, pacs: Pacs | None = None, **overrides: Any
) -> AsyncIterator[GatewayEnv]:
    config = make_config(state_dir, pacs_url, **overrides)
    enrolled = enroll(config)
    central = FakeCentral(public_key_from_b64(enrolled.public_key))
    await central.start()
    enroll(config, public_key_b64(central.key.public_key()))
    config = dataclasses.replace(config, central_url=central.url)
    gateway = Gateway.build(config, pacs=pacs)
    await gateway.start()
    try:
        yield GatewayEnv(gateway, central, config)
    finally:
        await gateway.aclose()
        await central.stop()
