"""One contract, three adapters: folder, Orthanc over DIMSE, Orthanc over DICOMweb.

Every test here runs against each adapter (the ``pacs`` fixture is parametrized), like Django's
``SessionTestsMixin``: a new adapter must pass the same suite.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import JPEGLSLossless, SecondaryCaptureImageStorage, generate_uid

from site_gateway.pacs import (
    Pacs,
    PacsError,
    PacsErrorCode,
    RetrievalFailure,
    RetrievedInstance,
    StudyQuery,
)
from tests.site_gateway.conftest import DEMO_SLICES, DemoData


async def _collect(pacs: Pacs, study: str, series: str, first: str | None = None):
    items = [item async for item in pacs.retrieve_series(study, series, first_sop_uid=first)]
    assert not [i for i in items if isinstance(i, RetrievalFailure)]
    return [i for i in items if isinstance(i, RetrievedInstance)]


def _secondary_capture(study_uid: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID, ds.PatientName = "DEMO-WRITEBACK", "DEMO^WRITEBACK"
    ds.Modality, ds.ConversionType, ds.SeriesNumber, ds.InstanceNumber = "OT", "WSD", 99, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.arange(64, dtype=np.uint8).tobytes()
    return ds


async def test_echo_answers(pacs: Pacs) -> None:
    await pacs.echo()


async def test_find_studies_returns_the_demo_study(pacs: Pacs, demo: DemoData) -> None:
    studies = {s.study_uid: s for s in await pacs.find_studies()}
    study = studies[demo.site.study_uid]
    assert study.patient_id == demo.site.patient_id
    assert study.patient_name == demo.site.patient_name
    assert "CT" in study.modalities
    assert study.number_of_instances in (None, DEMO_SLICES)


async def test_find_studies_filters_on_exact_keys(pacs: Pacs, demo: DemoData) -> None:
    by_patient = await pacs.find_studies(StudyQuery(patient_id=demo.site.patient_id))
    assert [s.study_uid for s in by_patient] == [demo.site.study_uid]
    by_uid = await pacs.find_studies(StudyQuery(study_uid=demo.site.study_uid))
    assert [s.study_uid for s in by_uid] == [demo.site.study_uid]
    assert await pacs.find_studies(StudyQuery(patient_id="NOBODY-HERE")) == []
    assert len(await pacs.find_studies(StudyQuery(limit=1))) == 1


async def test_find_series_describes_the_ct(pacs: Pacs, demo: DemoData) -> None:
    series = await pacs.find_series(demo.site.study_uid)
    assert [s.series_uid for s in series] == [demo.site.series_uid]
    (ct,) = series
    assert (ct.modality, ct.series_number, ct.body_part) == ("CT", 2, "CHEST")
    assert ct.series_description == "Synthetic phantom 1.25mm"
    assert ct.number_of_instances == DEMO_SLICES


async def test_find_instances_are_in_instance_number_order(pacs: Pacs, demo: DemoData) -> None:
    instances = await pacs.find_instances(demo.site.study_uid, demo.site.series_uid)
    assert [i.instance_number for i in instances] == list(range(1, DEMO_SLICES + 1))
    assert {i.sop_class_uid for i in instances} == {"1.2.840.10008.5.1.4.1.1.2"}


async def test_retrieval_sends_the_requested_instance_first_and_each_once(
    pacs: Pacs, demo: DemoData
) -> None:
    instances = await pacs.find_instances(demo.site.study_uid, demo.site.series_uid)
    wanted = instances[7].sop_uid
    got = await _collect(pacs, demo.site.study_uid, demo.site.series_uid, wanted)
    assert got[0].sop_uid == wanted
    assert sorted(i.sop_uid for i in got) == sorted(i.sop_uid for i in instances)
    ds = dcmread(io.BytesIO(got[0].data))
    assert ds.SOPInstanceUID == wanted
    reference = dcmread(next(p for p in demo.files if dcmread(p).SOPInstanceUID == wanted))
    assert np.array_equal(ds.pixel_array, reference.pixel_array)


async def test_retrieval_keeps_the_stored_compressed_transfer_syntax(
    pacs: Pacs, demo: DemoData
) -> None:
    source = dcmread(next(p for p in demo.files if "jpeg_ls" in p.name))
    got = await _collect(pacs, source.StudyInstanceUID, source.SeriesInstanceUID)
    by_uid = {i.sop_uid: dcmread(io.BytesIO(i.data)) for i in got}
    assert by_uid[source.SOPInstanceUID].file_meta.TransferSyntaxUID == JPEGLSLossless


async def test_retrieving_an_unknown_series_is_not_found(pacs: Pacs, demo: DemoData) -> None:
    with pytest.raises(PacsError) as caught:
        await _collect(pacs, demo.site.study_uid, generate_uid())
    assert caught.value.code is PacsErrorCode.NOT_FOUND


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "1.2.3\\1.2.4", "1.2.*", "x" * 80])
async def test_hostile_uids_are_refused_before_reaching_the_pacs(
    pacs: Pacs, demo: DemoData, hostile: str
) -> None:
    with pytest.raises(PacsError) as caught:
        await pacs.find_instances(demo.site.study_uid, hostile)
    assert caught.value.code is PacsErrorCode.NOT_FOUND
    with pytest.raises(PacsError):
        await _collect(pacs, hostile, demo.site.series_uid)


async def test_store_writes_back_and_is_idempotent(pacs: Pacs) -> None:
    study_uid = generate_uid()
    ds = _secondary_capture(study_uid)
    await pacs.store(ds)
    await pacs.store(ds)  # a retried write-back must not fail nor duplicate
    series = await pacs.find_series(study_uid)
    assert [(s.series_uid, s.number_of_instances) for s in series] == [(ds.SeriesInstanceUID, 1)]
    (got,) = await _collect(pacs, study_uid, ds.SeriesInstanceUID)
    assert dcmread(io.BytesIO(got.data)).PixelData == ds.PixelData


@pytest.mark.filterwarnings("ignore:.*VR UI:UserWarning")  # hostile on purpose
async def test_store_refuses_an_object_with_hostile_uids(pacs: Pacs, tmp_path: Path) -> None:
    ds = _secondary_capture(generate_uid())
    ds.SOPInstanceUID = "../../../../" + str(tmp_path / "escaped")
    with pytest.raises(PacsError) as caught:
        await pacs.store(ds)
    assert caught.value.code is PacsErrorCode.MALFORMED_OBJECT
    assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir()))
