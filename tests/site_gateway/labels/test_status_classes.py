"""A storage SCP that answers each status class: the worker retries, stores or dead-letters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.events import Event

from site_gateway.grants import Grant
from site_gateway.labels.outbox import Outbox
from site_gateway.labels.service import LabelService
from site_gateway.labels.store import LabelStore
from site_gateway.pacs import open_pacs
from site_gateway.protocol import LabelState
from tests.site_gateway.labels.conftest import FAST
from tests.site_gateway.labels.helpers import (
    SITE,
    StaticLookup,
    dciodvfy_every_object,
    point_document,
)
from tests.site_gateway.orthanc import free_port


@dataclass
class StatusScp:
    """Answers C-STORE with ``statuses`` in turn (the last one repeats)."""

    port: int
    statuses: list[int] = field(default_factory=list)
    received: list[str] = field(default_factory=list)

    def handle_store(self, event: Event) -> int:
        self.received.append(str(event.dataset.SOPInstanceUID))
        index = min(len(self.received), len(self.statuses)) - 1
        return self.statuses[index]


@pytest.fixture
def scp() -> Iterator[StatusScp]:
    ae = AE(ae_title="STATUSSCP")
    ae.supported_contexts = AllStoragePresentationContexts
    state = StatusScp(free_port())
    server = ae.start_server(
        ("127.0.0.1", state.port),
        block=False,
        evt_handlers=[(evt.EVT_C_STORE, state.handle_store)],
    )
    assert server is not None
    try:
        yield state
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("statuses", "state", "attempts"),
    [
        ([0x0000], LabelState.STORED_IN_PACS, 1),  # success
        ([0xB000], LabelState.STORED_IN_PACS, 1),  # warning: coercion of data elements
        ([0xA700, 0x0000], LabelState.STORED_IN_PACS, 2),  # out of resources, then success
        ([0xA7FF, 0x0110, 0x0000], LabelState.STORED_IN_PACS, 3),  # retryable twice
        ([0xA900], LabelState.FAILED, 1),  # data set does not match SOP class
        ([0xC000], LabelState.FAILED, 1),  # cannot understand
        ([0x0122], LabelState.FAILED, 1),  # SOP class not supported
    ],
)
async def test_each_status_class_is_handled_as_classified(
    scp: StatusScp, statuses: list[int], state: LabelState, attempts: int,
    tmp_path: Path, grant: Grant, handle: str, lookup: StaticLookup,
) -> None:  # fmt: skip
    scp.statuses = statuses
    pacs = open_pacs(f"dimse://STATUSSCP@127.0.0.1:{scp.port}?calling=RHINO&timeout=10")
    service = LabelService(
        LabelStore(tmp_path / "labels.sqlite", site=SITE), pacs, lookup, policy=FAST,
        run_worker=False,
    )  # fmt: skip
    try:
        saved = await service.save(grant, point_document(handle, 1, None))
        await service.worker.run_until_idle()
        revision = service.store.revision("task/12", saved.revision)
        assert revision.state is state
        assert len(scp.received) == attempts
        assert len(set(scp.received)) == 1  # every attempt is the same object
        dead = Outbox(service.store.db, service.store.lock).dead_letters()
        if state is LabelState.FAILED:
            assert [d["sop_uid"] for d in dead] == scp.received[:1]
            assert f"0x{statuses[-1]:04X}" in dead[0]["reason"]
            assert revision.reason == dead[0]["reason"]
        else:
            assert dead == []
        assert dciodvfy_every_object(tmp_path / "labels.sqlite", tmp_path) == 1
    finally:
        await service.aclose()
        await pacs.aclose()


async def test_an_unreachable_pacs_is_retried_not_dead_lettered(
    tmp_path: Path, grant: Grant, handle: str, lookup: StaticLookup
) -> None:
    pacs = open_pacs(f"dimse://NOBODY@127.0.0.1:{free_port()}?calling=RHINO&connect_timeout=1")
    service = LabelService(
        LabelStore(tmp_path / "labels.sqlite", site=SITE), pacs, lookup, policy=FAST,
        run_worker=False,
    )  # fmt: skip
    try:
        await service.save(grant, point_document(handle, 1, None))
        for _ in range(3):
            await service.worker.step()
        outbox = Outbox(service.store.db, service.store.lock)
        summary = outbox.summary(0)
        assert summary["pending"] == 1
        assert summary["dead"] == 0
        row = service.store.db.execute("SELECT attempts, reason FROM outbox").fetchone()
        assert row[0] >= 1
        assert "unreachable" in row[1] or "connection" in row[1].lower()
    finally:
        await service.aclose()
        await pacs.aclose()
