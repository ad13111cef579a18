"""Checks that need the source images: run by every builder before anything is built."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pydicom.dataset import Dataset

from imaging.dicom_out.errors import WritebackError, WritebackErrorCode
from imaging.dicom_out.model import ImageRef, Provenance, SourceImage, Superseded
from imaging.dicom_out.shapes import Point2D
from imaging.dicom_out.uids import check_uid

E = WritebackErrorCode


def index_sources(sources: Sequence[SourceImage]) -> dict[str, SourceImage]:
    """Sources by SOP Instance UID; all of one study, each given once."""
    if isinstance(sources, SourceImage) or not sources:
        raise WritebackError(
            E.UNKNOWN_SOURCE, "sources must be a non-empty sequence of SourceImage"
        )
    index: dict[str, SourceImage] = {}
    for source in sources:
        if not isinstance(source, SourceImage):
            raise WritebackError(E.UNKNOWN_SOURCE, "every source must be a SourceImage")
        if source.sop_instance_uid in index:
            raise WritebackError(E.DUPLICATE, f"source {source.sop_instance_uid} given twice")
        index[source.sop_instance_uid] = source
    studies = {s.study_instance_uid for s in index.values()}
    if len(studies) != 1:
        # One write-back object files under one study (PS3.3 C.7.2.1 General Study).
        raise WritebackError(
            E.MIXED_SOURCES,
            f"sources span {len(studies)} studies; one object references images of one study",
        )
    return index


def resolve(image: ImageRef, index: dict[str, SourceImage]) -> SourceImage:
    """The source an ``ImageRef`` names, with its frame number checked (PS3.3 C.7.6.6)."""
    source = index.get(image.sop_instance_uid)
    if source is None:
        raise WritebackError(
            E.UNKNOWN_SOURCE, f"image {image.sop_instance_uid} is not among the given sources"
        )
    if source.is_multiframe:
        if image.frame_number is None or image.frame_number > source.number_of_frames:
            raise WritebackError(
                E.FRAME_OUT_OF_RANGE,
                f"image {image.sop_instance_uid} has "
                f"{source.number_of_frames} frames; give a frame number 1.."
                f"{source.number_of_frames}, got {image.frame_number}",
            )
    elif image.frame_number not in (None, 1):
        raise WritebackError(
            E.FRAME_OUT_OF_RANGE,
            f"image {image.sop_instance_uid} is a "
            f"single-frame instance; frame number {image.frame_number} is invalid",
        )
    return source


def check_inside(points: Iterable[Point2D], source: SourceImage, what: str) -> None:
    """Every point within [0, Columns] × [0, Rows] (SCOORD image coordinates, C.18.6.1.1)."""
    for x, y in points:
        if not (0.0 <= x <= source.columns and 0.0 <= y <= source.rows):
            raise WritebackError(
                E.OUT_OF_BOUNDS,
                f"{what}: point ({x}, {y}) lies outside the "
                f"image (0..{source.columns}, 0..{source.rows})",
            )


def check_unique(uids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for uid in uids:
        if uid in seen:
            raise WritebackError(E.DUPLICATE, f"{what} uid {uid!r} occurs twice")
        seen.add(uid)


def check_document(
    *,
    sop_instance_uid: str,
    series_instance_uid: str,
    instance_number: int,
    series_number: int,
    provenance: Provenance,
    supersedes: Superseded | None,
) -> None:
    """The arguments every builder shares: identity, revision, provenance, supersession."""
    check_uid(sop_instance_uid, "SOP Instance UID")
    check_uid(series_instance_uid, "Series Instance UID")
    check_numbers(instance_number, series_number)
    if not isinstance(provenance, Provenance):
        raise WritebackError(E.BAD_VALUE, "provenance must be a Provenance")
    if supersedes is not None:
        if not isinstance(supersedes, Superseded):
            raise WritebackError(E.BAD_VALUE, "supersedes must be a Superseded or None")
        if supersedes.sop_instance_uid == sop_instance_uid:
            raise WritebackError(E.DUPLICATE, "an instance cannot supersede itself")


def check_numbers(instance_number: int, series_number: int) -> None:
    """IS values are signed 32-bit (PS3.5 6.2); revisions start at 1."""
    for name, value in (("instance_number", instance_number), ("series_number", series_number)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**31:
            raise WritebackError(E.BAD_VALUE, f"{name} must be an integer 1..2^31-1, got {value!r}")


def provenance_texts(provenance: Provenance) -> list[str]:
    return [
        provenance.observer,
        provenance.task_id,
        provenance.project,
        provenance.schema_version,
        provenance.software_name,
        provenance.software_version,
        provenance.observer_role.meaning,
    ]


def character_set(texts: Iterable[str]) -> str | None:
    """Specific Character Set of a new object (PS3.3 C.12.1.1.2).

    None keeps the source's (highdicom copies it with the patient and study modules) when every
    text this product adds is ASCII; otherwise UTF-8 ("ISO_IR 192"), which also holds whatever the
    copied patient module holds, since pydicom decodes it to Unicode on reading.
    """
    if all(text.isascii() for text in texts):
        return None
    return "ISO_IR 192"


def set_timezone(ds: Dataset, when: datetime) -> None:
    """Timezone Offset From UTC (SOP Common, C.12.1): Content Date/Time are ``when``'s local time."""
    ds.TimezoneOffsetFromUTC = when.strftime("%z")
