"""Input contract of the write-back builders: frozen dataclasses, validated when constructed.

This module holds labels, provenance, sources and references; the annotation shapes and masks are
in ``imaging.dicom_out.shapes``.

Everything here is already resolved by the gateway: real DICOM UIDs, the source instances as pydicom
Datasets, the task's coded label schema. Checks that need the source image (bounds, frame numbers,
mask shapes) run in the builders, before anything is built (see ``imaging.dicom_out.checks``).
Coordinates are image pixel coordinates in the SCOORD convention of PS3.3 C.18.6.1.1: column x,
row y, the top-left corner of the image is (0, 0) and the centre of the first pixel is (0.5, 0.5).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydicom.dataset import Dataset

from imaging.dicom_out.errors import WritebackError, WritebackErrorCode
from imaging.dicom_out.uids import check_uid

E = WritebackErrorCode
_E = TypeVar("_E", bound=enum.Enum)

# PS3.5 6.2: SH (code value) ≤ 16, CS-like designator, LO meaning ≤ 64; no backslash in any of them.
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _text(value: object, what: str, limit: int, *, code: E = E.BAD_TEXT) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\\" in value:
        raise WritebackError(
            code,
            f"{what} must be a non-empty string of ≤ {limit} characters "
            f"without a backslash, got {value!r}",
        )
    return value


class LabelKind(enum.StrEnum):
    """What a schema label may be drawn as; fixes which annotation types may carry it."""

    REGION = "region"
    MASK = "mask"
    POINT = "point"
    MEASUREMENT = "measurement"
    CLASSIFICATION = "classification"


class SegmentCategory(enum.StrEnum):
    """Segmented Property Category of a mask (CID 7150): an abnormality or normal anatomy."""

    ABNORMAL = "abnormal"  # SCT 49755003 Morphologically abnormal structure
    ANATOMY = "anatomy"  # SCT 91723000 Anatomical structure


class ClassificationLevel(enum.StrEnum):
    IMAGE = "image"
    SERIES = "series"
    STUDY = "study"


@dataclass(frozen=True)
class Concept:
    """A coded concept (PS3.3 8.8 Code Sequence Macro): value, scheme designator, meaning."""

    value: str
    scheme: str
    meaning: str

    def __post_init__(self) -> None:
        # Code Value is SH (≤ 16); longer codes (e.g. some SCT ids are fine, URNs are not) belong in
        # Long Code Value, which this product does not need: its schemas use SCT, RADLEX and DCM.
        _text(self.value, "code value", 16, code=E.BAD_CODE)
        _text(self.scheme, "coding scheme designator", 16, code=E.BAD_CODE)
        _text(self.meaning, "code meaning", 64, code=E.BAD_CODE)


@dataclass(frozen=True)
class CodedLabel:
    """One label of the task's schema: ``key`` is the schema's stable name, ``colour`` "#rrggbb"."""

    key: str
    kind: LabelKind
    value: str
    scheme: str
    meaning: str
    colour: str = "#ffff00"

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _KEY.match(self.key):
            raise WritebackError(
                E.BAD_KEY, f"label key must match [A-Za-z0-9_.-]{{1,64}}, got {self.key!r}"
            )
        try:
            object.__setattr__(self, "kind", LabelKind(self.kind))
        except ValueError:
            valid = ", ".join(k.value for k in LabelKind)
            raise WritebackError(
                E.UNKNOWN_LABEL_KIND,
                f"label {self.key!r} has kind {self.kind!r}; valid kinds: {valid}",
            ) from None
        Concept(self.value, self.scheme, self.meaning)
        if not isinstance(self.colour, str) or not _COLOUR.match(self.colour):
            raise WritebackError(
                E.BAD_COLOUR, f"label {self.key!r} colour must be '#rrggbb', got {self.colour!r}"
            )

    @property
    def concept(self) -> Concept:
        return Concept(self.value, self.scheme, self.meaning)

    @property
    def rgb(self) -> tuple[int, int, int]:
        return (int(self.colour[1:3], 16), int(self.colour[3:5], 16), int(self.colour[5:7], 16))


@dataclass(frozen=True)
class Provenance:
    """Who and what made the labels. ``observer`` is the annotator's pseudonym (never a real name);
    ``observer_role`` a coded role (CID 7452 Organizational Roles, e.g. SCT 66862007 Radiologist)."""

    observer: str
    task_id: str
    project: str
    schema_version: str
    software_version: str
    device_observer_uid: str
    timestamp: datetime
    observer_role: Concept = Concept("66862007", "SCT", "Radiologist")
    software_name: str = "Rhino Secure Access"

    def __post_init__(self) -> None:
        # Person Name (PN) components are ≤ 64 characters (PS3.5 6.2); "^" and "=" would split it.
        _text(self.observer, "observer pseudonym", 64)
        if any(c in self.observer for c in "^="):
            raise WritebackError(E.BAD_TEXT, "observer pseudonym must not contain '^' or '='")
        _text(self.task_id, "task id", 64)
        _text(self.project, "project", 64)
        _text(self.schema_version, "schema version", 16)
        _text(self.software_version, "software version", 64)
        _text(self.software_name, "software name", 64)
        check_uid(self.device_observer_uid, "device observer UID")
        if not isinstance(self.timestamp, datetime) or self.timestamp.tzinfo is None:
            raise WritebackError(E.BAD_TEXT, "timestamp must be a timezone-aware datetime")

    @property
    def session_text(self) -> str:
        """Written in every measurement group's Session item (TID 1501, DCM C67447)."""
        return f"task={self.task_id};project={self.project};schema={self.schema_version}"


@dataclass(frozen=True, eq=False)
class SourceImage:
    """A referenced source instance. Only its header is used; pixel data need not be loaded."""

    dataset: Dataset

    def __post_init__(self) -> None:
        ds = self.dataset
        if not isinstance(ds, Dataset):
            raise WritebackError(E.MISSING_ATTRIBUTE, "SourceImage needs a pydicom Dataset")
        for keyword in (
            "SOPClassUID",
            "SOPInstanceUID",
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "Rows",
            "Columns",
        ):
            if ds.get(keyword) in (None, ""):
                raise WritebackError(E.MISSING_ATTRIBUTE, f"source instance lacks {keyword}")
        for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
            check_uid(str(ds.get(keyword)), f"source {keyword}")

    @property
    def sop_class_uid(self) -> str:
        return str(self.dataset.SOPClassUID)

    @property
    def sop_instance_uid(self) -> str:
        return str(self.dataset.SOPInstanceUID)

    @property
    def study_instance_uid(self) -> str:
        return str(self.dataset.StudyInstanceUID)

    @property
    def series_instance_uid(self) -> str:
        return str(self.dataset.SeriesInstanceUID)

    @property
    def frame_of_reference_uid(self) -> str | None:
        value = self.dataset.get("FrameOfReferenceUID")
        return None if value in (None, "") else str(value)

    @property
    def rows(self) -> int:
        return int(self.dataset.Rows)

    @property
    def columns(self) -> int:
        return int(self.dataset.Columns)

    @property
    def number_of_frames(self) -> int:
        return int(self.dataset.get("NumberOfFrames") or 1)

    @property
    def is_multiframe(self) -> bool:
        return "NumberOfFrames" in self.dataset

    def pixel_spacing(self, frame_number: int | None) -> tuple[float, float] | None:
        """(row spacing, column spacing) in mm (PS3.3 10.7.1.3), per frame for enhanced objects
        (C.7.6.16.2.1 Pixel Measures), or None when the image does not say."""
        ds = self.dataset
        groups: list[Any] = []
        if frame_number is not None and "PerFrameFunctionalGroupsSequence" in ds:
            groups.append(ds.PerFrameFunctionalGroupsSequence[frame_number - 1])
        if "SharedFunctionalGroupsSequence" in ds:
            groups.append(ds.SharedFunctionalGroupsSequence[0])
        for group in groups:
            if (
                "PixelMeasuresSequence" in group
                and "PixelSpacing" in group.PixelMeasuresSequence[0]
            ):
                row, column = group.PixelMeasuresSequence[0].PixelSpacing
                return float(row), float(column)
        if "PixelSpacing" in ds:
            row, column = ds.PixelSpacing
            return float(row), float(column)
        return None


@dataclass(frozen=True)
class ImageRef:
    """One image: a source SOP Instance UID and, for multi-frame sources, a 1-based frame number."""

    sop_instance_uid: str
    frame_number: int | None = None

    def __post_init__(self) -> None:
        check_uid(self.sop_instance_uid, "referenced SOP Instance UID")
        if self.frame_number is not None and (
            not isinstance(self.frame_number, int) or self.frame_number < 1
        ):
            raise WritebackError(
                E.FRAME_OUT_OF_RANGE, f"frame numbers start at 1, got {self.frame_number!r}"
            )


def _enum(cls: type[_E], value: object, what: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        valid = ", ".join(str(v.value) for v in cls)
        raise WritebackError(E.BAD_VALUE, f"{what} {value!r} is not one of: {valid}") from None


@dataclass(frozen=True)
class InstanceRef:
    """A SOP instance (in a KOS, in a supersession reference)."""

    sop_class_uid: str
    sop_instance_uid: str

    def __post_init__(self) -> None:
        check_uid(self.sop_class_uid, "SOP Class UID")
        check_uid(self.sop_instance_uid, "SOP Instance UID")


@dataclass(frozen=True)
class SelectedSeries:
    series_instance_uid: str
    instances: tuple[InstanceRef, ...]

    def __post_init__(self) -> None:
        check_uid(self.series_instance_uid, "selected Series Instance UID")
        object.__setattr__(self, "instances", tuple(self.instances))
        if not self.instances:
            raise WritebackError(
                E.EMPTY_GEOMETRY, f"selected series {self.series_instance_uid} lists no instances"
            )


class SelectionDecision(enum.StrEnum):
    INCLUDE = "include"
    EXCLUDE = "exclude"


@dataclass(frozen=True)
class SelectionReason:
    """The lead's reason: a decision, free text (Key Object Description) and an optional code."""

    decision: SelectionDecision
    text: str
    code: Concept | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "decision", _enum(SelectionDecision, self.decision, "decision"))
        # Key Object Description is a TEXT item (UT) but PACS viewers show one line: keep it short.
        _text(self.text, "selection reason", 1024)


@dataclass(frozen=True)
class Superseded:
    """The instance a new revision replaces (edits never overwrite)."""

    study_instance_uid: str
    series_instance_uid: str
    sop_class_uid: str
    sop_instance_uid: str

    def __post_init__(self) -> None:
        for name in (
            "study_instance_uid",
            "series_instance_uid",
            "sop_class_uid",
            "sop_instance_uid",
        ):
            check_uid(getattr(self, name), name)
