"""Where a label's frame comes from: series handle + index → the source instance and its header.

Labels reference frames as the viewer sees them (a series handle and a slice index); the DICOM
objects must reference the real source instance (PS3.3 C.18.6.1.2 Referenced SOP Sequence). The
``SourceLookup`` answers that, with the instance's header (no pixel data): the builders copy the
patient and study modules from it and check bounds against its Rows and Columns.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Protocol

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from site_gateway.series_source import RequestError, SeriesSource


class SourceError(Exception):
    """A frame that cannot be resolved; ``detail`` is a stable code for the wire."""

    def __init__(self, detail: str, message: str) -> None:
        super().__init__(f"{detail}: {message}")
        self.detail = detail
        self.message = message


@dataclass(frozen=True, eq=False)
class FrameSource:
    """One frame of a series: its instance (handle and UIDs), frame number and header."""

    series: str  # the series handle
    index: int
    instance_handle: str
    header: Dataset
    frame_number: int | None  # 1-based, for multi-frame instances only (PS3.3 C.7.6.6)

    @property
    def sop_uid(self) -> str:
        return str(self.header.SOPInstanceUID)

    @property
    def sop_class_uid(self) -> str:
        return str(self.header.SOPClassUID)

    @property
    def study_uid(self) -> str:
        return str(self.header.StudyInstanceUID)

    @property
    def series_uid(self) -> str:
        return str(self.header.SeriesInstanceUID)

    @property
    def rows(self) -> int:
        return int(self.header.Rows)

    @property
    def columns(self) -> int:
        return int(self.header.Columns)


@dataclass(frozen=True)
class SeriesInstances:
    """Every instance of a series (for a Key Object Selection)."""

    series: str
    study_uid: str
    series_uid: str
    instances: tuple[tuple[str, str], ...]  # (SOP Class UID, SOP Instance UID)
    # The viewer's slice index → (SOP Instance UID, frame number or None for single-frame).
    frames: tuple[tuple[str, int | None], ...] = ()


class SourceLookup(Protocol):
    async def frame(self, series: str, index: int) -> FrameSource: ...
    async def series_instances(self, series: str) -> SeriesInstances: ...


def header_bytes(header: Dataset) -> bytes:
    """The header as a small Part 10 file (no pixel data), for the label store."""
    ds = Dataset(header)
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in ds:
            del ds[keyword]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = header.SOPClassUID
    meta.MediaStorageSOPInstanceUID = header.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def header_from_bytes(data: bytes) -> Dataset:
    return pydicom.dcmread(io.BytesIO(data), force=True)


class SeriesSourceLookup:
    """The gateway's lookup: the series as the sessions see it, headers from the instance cache."""

    def __init__(self, source: SeriesSource) -> None:
        self._source = source

    async def frame(self, series: str, index: int) -> FrameSource:
        try:
            state = await self._source.open(series, index)
            if not 0 <= index < state.total:
                raise SourceError(
                    "frame_out_of_range", f"index {index} is outside 0…{state.total - 1}"
                )
            record_index, frame_index = state.slices[index]
            path = await self._source.instance_path(state, record_index)
        except RequestError as exc:
            raise SourceError("source_unavailable", exc.message) from None
        header = await asyncio.to_thread(pydicom.dcmread, path, stop_before_pixels=True, force=True)
        multiframe = "NumberOfFrames" in header
        return FrameSource(
            series=series,
            index=index,
            instance_handle=state.instance_handles[record_index],
            header=header,
            frame_number=frame_index + 1 if multiframe else None,
        )

    async def series_instances(self, series: str) -> SeriesInstances:
        try:
            state = await self._source.open(series)
        except RequestError as exc:
            raise SourceError("source_unavailable", exc.message) from None
        return SeriesInstances(
            series=series,
            study_uid=state.study_uid,
            series_uid=state.series_uid,
            instances=tuple((r.sop_class_uid, r.sop_uid) for r in state.records),
            frames=tuple(
                (
                    state.records[record].sop_uid,
                    frame + 1 if (state.records[record].number_of_frames or 1) > 1 else None,
                )
                for record, frame in state.slices
            ),
        )


__all__ = [
    "FrameSource",
    "SeriesInstances",
    "SeriesSourceLookup",
    "SourceError",
    "SourceLookup",
    "header_bytes",
    "header_from_bytes",
]
