"""Wiring of the gateway service, and the operator commands that belong to it.

``Gateway`` owns every long-lived part (PACS adapter, handle map, caches, retriever, render pool,
site audit, sessions, control link); ``run`` starts it until cancelled or signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from imaging import HandleKey
from site_gateway.browse import SeriesBrowser
from site_gateway.cache import DiskCache, MemoryLRU
from site_gateway.config import GatewayConfig
from site_gateway.handle_map import HandleMap
from site_gateway.keys import SiteKeys, load_keys
from site_gateway.labels.service import LabelService
from site_gateway.labels.sources import SeriesSourceLookup
from site_gateway.link import ControlLink, LinkIdentity, authenticate, open_data_link, open_link
from site_gateway.pacs import Pacs, PacsError, open_pacs
from site_gateway.render_service import RenderService, new_memory_cache
from site_gateway.retrieval import Retriever
from site_gateway.series_source import FindOnce, SeriesSource
from site_gateway.session_manager import SessionManager
from site_gateway.sessions import DataLink, SessionServices
from site_gateway.site_audit import SiteAudit
from site_gateway.site_digest import DigestBuilder, DigestSender
from site_gateway.site_requests import SiteRequests

log = logging.getLogger("site_gateway.service")


@dataclass
class PacsHealth:
    ok: bool = False
    detail: str = "not checked yet"
    checked_at: float = 0.0
    latency_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "detail": self.detail,
            "checked_at": round(self.checked_at),
            "latency_ms": self.latency_ms,
        }


@dataclass(eq=False)
class Gateway:
    config: GatewayConfig
    keys: SiteKeys
    pacs: Pacs
    handles: HandleMap
    disk: DiskCache
    memory: MemoryLRU[Hashable, Any]
    retriever: Retriever
    renderer: RenderService
    audit: SiteAudit
    manager: SessionManager
    link: ControlLink
    labels: LabelService
    requests: SiteRequests
    health: PacsHealth = field(default_factory=PacsHealth)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, config: GatewayConfig, *, pacs: Pacs | None = None) -> Gateway:
        keys = load_keys(config)
        config.cache_dir.mkdir(parents=True, exist_ok=True)
        pacs = pacs or open_pacs(config.pacs_url)
        handle_key = HandleKey(keys.handle_key)
        handles = HandleMap(config.handles_path, handle_key)
        disk = DiskCache(config.cache_dir, config.cache_disk_bytes)
        memory = new_memory_cache(config.cache_memory_bytes)
        shared = FindOnce(pacs)
        retriever = Retriever(shared, disk)
        renderer = RenderService(workers=config.workers, memory=memory)
        audit = SiteAudit(config.audit_path, keys.audit_key)
        source = SeriesSource(
            pacs=shared, retriever=retriever, handles=handles, handle_key=handle_key, disk=disk
        )
        identity = LinkIdentity(config.site, keys.gateway, keys.central)

        async def data_link(session: str) -> DataLink:
            return await open_data_link(config.data_url(session), identity, session)

        manager = SessionManager(
            site=config.site,
            central_key=keys.central,
            serves_project=config.serves_project,
            services=SessionServices(source=source, renderer=renderer, audit=audit),
            open_data_link=data_link,
        )
        link = ControlLink(
            url=config.control_url,
            identity=identity,
            manager=manager,
            status=dict,  # replaced by Gateway.status just below
            heartbeat_seconds=config.heartbeat_seconds,
            reconnect_cap=config.reconnect_cap_seconds,
        )
        # Write-back: label.save/label.load in every session, delivery to the PACS, task.labels
        # reports to central on the control link (docs/writeback.md).
        labels = LabelService.open(
            config.labels_path,
            site=config.site,
            pacs=pacs,
            lookup=SeriesSourceLookup(source),
            send_control=link.send_control,
            link_generation=lambda: link.connections,
        )
        labels.install()
        # The lead's requests over the control link: browse, thumbnails, KOS selections, reader
        # agreement (docs/protocol.md, "Site requests").
        requests = SiteRequests(
            site=config.site,
            central_key=keys.central,
            serves_project=config.serves_project,
            browser=SeriesBrowser(pacs=shared, handles=handles, source=source, renderer=renderer),
            labels=labels,
            audit=audit,
            send=link.send_control,
        )
        link.on_request = requests.submit
        gateway = cls(
            config, keys, pacs, handles, disk, memory, retriever, renderer, audit, manager, link,
            labels, requests,
        )  # fmt: skip
        link.status = gateway.status
        return gateway

    def status(self) -> dict[str, Any]:
        return {
            "pacs": self.health.to_json(),
            "cache": {
                "disk_bytes": self.disk.size_bytes,
                "disk_cap": self.disk.max_bytes,
                "memory_bytes": self.memory.size_bytes,
                "memory_cap": self.memory.max_bytes,
            },
            "outbox": self.labels.status(),
        }

    async def check_pacs(self) -> None:
        """One echo, with a deadline; it runs off the frame path, in its own task."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.config.pacs_echo_timeout):
                await self.pacs.echo()
        except TimeoutError:
            self.health = PacsHealth(False, "timeout", time.time())
        except PacsError as exc:
            self.health = PacsHealth(False, str(exc.code), time.time())
        else:
            latency = round((time.monotonic() - started) * 1000, 1)
            self.health = PacsHealth(True, "echo ok", time.time(), latency)
        if not self.health.ok:
            log.warning("PACS health check failed: %s", self.health.detail)

    async def _watch_pacs(self) -> None:
        while True:
            await self.check_pacs()
            await asyncio.sleep(self.config.pacs_echo_seconds)

    async def start(self) -> None:
        self.audit.start()
        await self.labels.start()
        self._tasks = [
            asyncio.create_task(self._watch_pacs(), name="pacs-health"),
            asyncio.create_task(self.link.run_forever(), name="control-link"),
            # The site audit digest (site_gateway/site_digest.py): on connect, then periodically.
            DigestSender(
                DigestBuilder(self.config.audit_path),
                send=self.link.send_control,
                connections=lambda: self.link.connections,
                flush=self.audit.flush,
                period=self.config.digest_seconds,
            ).start(),
        ]

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.link.aclose()
        await self.requests.aclose()
        await self.manager.aclose()
        await self.labels.aclose()
        await self.retriever.aclose()
        self.renderer.close()
        await self.pacs.aclose()
        await self.audit.aclose()
        self.handles.close()


async def run(config: GatewayConfig) -> None:
    """Run until SIGINT/SIGTERM (or cancellation), then stop cleanly."""
    gateway = Gateway.build(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await gateway.start()
    log.info("gateway for site %s started; central %s", config.site, config.central_url)
    try:
        await stop.wait()
    finally:
        await gateway.aclose()


async def probe_central(config: GatewayConfig, keys: SiteKeys, wait: float = 10.0) -> str:
    """Connect and authenticate once (for ``doctor``); returns a line to print, raises on error."""
    identity = LinkIdentity(config.site, keys.gateway, keys.central)
    async with asyncio.timeout(wait):
        ws = await open_link(config.control_url)
    try:
        ok = await authenticate(ws, identity)
    finally:
        await ws.close()
    return f"authenticated to {config.control_url} (heartbeat {ok.get('heartbeat_seconds')} s)"
