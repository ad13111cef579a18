"""SR, SEG and KOS delivered to a real Orthanc over C-STORE and STOW-RS: accepted, once, valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from imaging.dicom_out import read_back
from site_gateway.grants import Grant
from site_gateway.labels.outbox import Outbox
from site_gateway.labels.service import LabelService
from site_gateway.labels.store import LabelStore
from site_gateway.pacs import open_pacs
from site_gateway.protocol import LabelState
from tests.site_gateway.conftest import SCU_AET
from tests.site_gateway.labels.conftest import FAST
from tests.site_gateway.labels.helpers import (
    SITE,
    StaticLookup,
    dciodvfy_clean,
    document,
    every_kind,
    read,
)
from tests.site_gateway.orthanc import OrthancServer

pytestmark = pytest.mark.orthanc


@pytest.mark.parametrize("adapter", ["dimse", "dicomweb"])
async def test_sr_seg_and_kos_are_accepted_by_orthanc_once(
    adapter: str, orthanc: OrthancServer, tmp_path: Path, grant: Grant, handle: str,
    lookup: StaticLookup, ct: list[Dataset],
) -> None:  # fmt: skip
    url = orthanc.dimse_url(SCU_AET, timeout=10) if adapter == "dimse" else orthanc.dicomweb_url
    pacs = open_pacs(url)
    service = LabelService(
        LabelStore(tmp_path / "labels.sqlite", site=SITE), pacs, lookup, policy=FAST,
        run_worker=False,
    )  # fmt: skip
    try:
        saved = await service.save(grant, document(every_kind(handle)))
        selection = await service.select_series(
            project="lungs", lead="u_lead01", series=[handle], decision="include",
            text="good inspiration, thin slices",
            code={"value": "111", "scheme": "99RHINO", "meaning": "Suitable"},
        )  # fmt: skip
        await service.worker.run_until_idle()
        outbox = Outbox(service.store.db, service.store.lock)
        assert outbox.dead_letters() == []
        assert service.store.revision("task/12", saved.revision).state is LabelState.STORED_IN_PACS
        assert service.store.revision("selection/lungs", selection.revision).state is (
            LabelState.STORED_IN_PACS
        )
        rows = service.store.db.execute(
            "SELECT sop_uid, kind, study_uid, series_uid, data FROM outbox"
        ).fetchall()
        assert sorted(r[1] for r in rows) == ["kos", "seg", "sr"]
        for sop_uid, kind, study_uid, series_uid, data in rows:
            assert dciodvfy_clean(data, tmp_path, f"{adapter}-{kind}") == []
            # Orthanc holds it, once; storing the same object again changes nothing.
            found = await pacs.find_instances(study_uid, series_uid)
            assert [r.sop_uid for r in found] == [sop_uid]
            await pacs.store(read(data))
            assert len(await pacs.find_instances(study_uid, series_uid)) == 1
            content = read_back(read(data))
            if kind == "kos":
                assert [i.sop_instance_uid for i in content.selected] == [
                    str(d.SOPInstanceUID) for d in ct
                ]
                assert content.document_title is not None
                assert content.document_title[0] == "113000"
        # A gateway with an empty store reads the task back from Orthanc (C-GET / WADO-RS).
        fresh = LabelService(
            LabelStore(tmp_path / "fresh.sqlite", site=SITE), pacs, lookup, run_worker=False
        )
        try:
            reopened = await fresh.load(grant)
        finally:
            await fresh.aclose()
        assert reopened is not None
        loaded, revision = reopened
        assert revision == saved.revision
        tools = sorted(a["tool"] for a in loaded["annotations"])
        assert tools == sorted(a["tool"] for a in every_kind(handle))
    finally:
        await service.aclose()
        await pacs.aclose()
