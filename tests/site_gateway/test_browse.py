"""The series browser's scan at the site: every filter applies before a study counts towards the
limit, the scan stops once the limit is passed, and only returned studies enter the handle map.
A real folder PACS of synthetic studies (built here, no patient data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

from imaging.handles import HandleKey
from site_gateway.browse import SeriesBrowser, parse_browse_query
from site_gateway.handle_map import HandleMap
from site_gateway.pacs import Pacs, StudyQuery, open_pacs

pytestmark = pytest.mark.asyncio

STUDIES = 150  # more than two scan chunks (64)
TARGET = 140  # the one study whose description says "target"


def _uid(*parts: object) -> UID:
    return generate_uid(entropy_srcs=["rhino-test-browse", *map(str, parts)])


def _write(folder: Path) -> None:
    folder.mkdir(parents=True)
    for study in range(STUDIES):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid(study, "sop")
        ds.StudyInstanceUID, ds.SeriesInstanceUID = _uid(study), _uid(study, "series")
        ds.PatientName, ds.PatientID = f"TEST^B{study:03d}", f"T{study:05d}"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20200101", "120000", f"A{study}"
        ds.StudyDescription = "TARGET CT" if study == TARGET else "ROUTINE CT"
        ds.SeriesDescription, ds.Modality, ds.BodyPartExamined = "Axial", "CT", "CHEST"
        ds.SeriesNumber, ds.InstanceNumber = 1, 1
        ds.Rows = ds.Columns = 8
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.zeros((8, 8), dtype="<u2").tobytes()
        ds.save_as(folder / f"{study:04d}.dcm", enforce_file_format=True)


class CountingPacs:
    """The real folder PACS, counting the series queries the browser makes."""

    def __init__(self, pacs: Pacs) -> None:
        self.pacs = pacs
        self.series_queries = 0

    async def find_studies(self, query: StudyQuery | None = None) -> Any:
        return await self.pacs.find_studies(query)

    async def find_series(self, study_uid: str) -> Any:
        self.series_queries += 1
        return await self.pacs.find_series(study_uid)


def _handles(path: Path) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT count(*) FROM handles").fetchone()[0])
    finally:
        db.close()


async def test_filters_apply_before_the_limit_and_the_scan_stops_past_it(tmp_path: Path) -> None:
    _write(tmp_path / "pacs")
    async with open_pacs(f"folder:{tmp_path / 'pacs'}") as pacs:
        counting = CountingPacs(pacs)
        handles = HandleMap(tmp_path / "handles.sqlite", HandleKey(b"t" * 32))
        browser = SeriesBrowser(pacs=counting, handles=handles, source=None, renderer=None)  # type: ignore[arg-type]
        try:
            # the one match lies beyond the first chunk and beyond the limit: still found
            found = await browser.query(parse_browse_query({"text": "target", "limit": 2}))
            assert [s["description"] for s in found["studies"]] == ["TARGET CT"]
            assert found["truncated"] is False
            assert counting.series_queries == STUDIES  # it had to look at every study
            assert _handles(tmp_path / "handles.sqlite") == 2  # that study and its series only

            counting.series_queries = 0
            first = await browser.query(parse_browse_query({"limit": 3}))
            assert len(first["studies"]) == 3 and first["truncated"] is True
            assert counting.series_queries == 64  # one chunk: the limit was passed in it

            counting.series_queries = 0
            every = await browser.query(parse_browse_query({"limit": 500}))
            assert len(every["studies"]) == STUDIES and every["truncated"] is False
            nothing = await browser.query(parse_browse_query({"body_part": "HEAD"}))
            assert nothing == {"studies": [], "truncated": False}
        finally:
            handles.close()
