"""The PACS interface every adapter implements, and the plain records it returns.

Records carry original DICOM identifiers: they never leave the gateway. The caller maps them to
handles (``site_gateway.handle_map``) and de-identifies metadata before anything goes out.
"""

from __future__ import annotations

import abc
import io
import re
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field

from pydicom import Dataset, dcmread, dcmwrite

from site_gateway.pacs.errors import PacsError, PacsErrorCode

# PS3.5 9.1: a UID is digits and dots, at most 64 characters, components without leading zeros.
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")

# Transfer syntaxes whose pixel data is stored natively, so its length can be checked.
_NATIVE_SYNTAXES = frozenset(
    {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}
)


def is_valid_uid(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 64 and _UID_RE.match(value) is not None


@dataclass(frozen=True, slots=True)
class StudyRecord:
    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""
    study_time: str = ""
    accession_number: str = ""
    study_description: str = ""
    modalities: tuple[str, ...] = ()
    number_of_series: int | None = None
    number_of_instances: int | None = None


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    study_uid: str
    series_uid: str
    modality: str = ""
    series_number: int | None = None
    series_description: str = ""
    body_part: str = ""
    number_of_instances: int | None = None


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str = ""
    instance_number: int | None = None
    number_of_frames: int | None = None


@dataclass(frozen=True, slots=True)
class RetrievedInstance:
    """One object of a series retrieval: a DICOM Part 10 file, checked by ``check_instance``."""

    sop_uid: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class RetrievalFailure:
    """One object that could not be used; the retrieval of the others goes on."""

    error: PacsError
    sop_uid: str | None = None


RetrievalItem = RetrievedInstance | RetrievalFailure


@dataclass(frozen=True, slots=True)
class StudyQuery:
    """Exact-match keys for a study search (wildcards are not promised by every adapter)."""

    study_uid: str | None = None
    patient_id: str | None = None
    accession_number: str | None = None
    modality: str | None = None
    limit: int | None = None


def order_instances(instances: list[InstanceRecord]) -> list[InstanceRecord]:
    """Instances in InstanceNumber order (unnumbered last), then by UID for stability."""
    return sorted(
        instances,
        key=lambda i: (i.instance_number is None, i.instance_number or 0, i.sop_uid),
    )


def check_instance(data: bytes, series_uid: str | None = None) -> tuple[str, Dataset, bytes]:
    """Parse a received object, check what retrieval relies on; returns (UID, dataset, Part 10).

    The bytes come back as a Part 10 file even when the sender left out the preamble and file
    meta (PS3.10 7.1), so the cache and the decoder see one format.

    Raises ``PacsError(MALFORMED_OBJECT)`` for bytes that do not parse, a missing or invalid SOP
    Instance UID, an object of another series, or native pixel data shorter than its header says.
    """
    try:
        ds = dcmread(io.BytesIO(data), force=True)
        sop_uid = ds.get("SOPInstanceUID")
        object_series = ds.get("SeriesInstanceUID")
        has_pixels = "PixelData" in ds
    except Exception as exc:  # pydicom raises many types for garbage; all mean "malformed"
        raise PacsError(PacsErrorCode.MALFORMED_OBJECT, f"object does not parse: {exc}") from exc
    if not is_valid_uid(sop_uid):
        raise PacsError(PacsErrorCode.MALFORMED_OBJECT, "object has no valid SOP Instance UID")
    if series_uid is not None and object_series != series_uid:
        raise PacsError(PacsErrorCode.MALFORMED_OBJECT, "object belongs to another series")
    if has_pixels:
        _check_native_pixels(ds)
    if data[128:132] != b"DICM":
        buffer = io.BytesIO()
        try:
            dcmwrite(buffer, with_file_meta(ds), enforce_file_format=True)
        except Exception as exc:  # cannot be made a file: as malformed as it gets
            raise PacsError(PacsErrorCode.MALFORMED_OBJECT, f"not encodable: {exc}") from exc
        data = buffer.getvalue()
    return str(sop_uid), ds, data


def _check_native_pixels(ds: Dataset) -> None:
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is None or str(syntax) not in _NATIVE_SYNTAXES:
        return  # encapsulated pixel data: the decoder checks it
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1))
        bits = int(ds.BitsAllocated)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        length = len(ds.PixelData)
    except Exception as exc:  # a missing or garbled Image Pixel module attribute
        raise PacsError(PacsErrorCode.MALFORMED_OBJECT, f"bad image pixel module: {exc}") from exc
    # PS3.5 8.1.1: native pixel data is rows*columns*samples*frames cells of BitsAllocated bits.
    expected = (rows * columns * samples * frames * bits + 7) // 8
    if length < expected:
        raise PacsError(
            PacsErrorCode.MALFORMED_OBJECT,
            f"pixel data holds {length} bytes, the image pixel module needs {expected}",
        )


def require_uid(value: str, what: str) -> str:
    """Validate a UID given to an adapter (never trust a UID to be a safe string)."""
    if not is_valid_uid(value):
        raise PacsError(PacsErrorCode.NOT_FOUND, f"{what} is not a valid UID")
    return value


def text_of(ds: Dataset, keyword: str) -> str:
    """An attribute of a query match as text; multi-valued ones joined with a backslash."""
    value = ds.get(keyword)
    if value is None:
        return ""
    if type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def int_of(ds: Dataset, keyword: str) -> int | None:
    """An integer attribute of a query match; None when absent, empty or garbled."""
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def study_record(m: Dataset) -> StudyRecord:
    """A study-level query match (C-FIND or QIDO-RS), as the adapters' one mapping."""
    return StudyRecord(
        study_uid=text_of(m, "StudyInstanceUID"),
        patient_id=text_of(m, "PatientID"),
        patient_name=text_of(m, "PatientName"),
        study_date=text_of(m, "StudyDate"),
        study_time=text_of(m, "StudyTime"),
        accession_number=text_of(m, "AccessionNumber"),
        study_description=text_of(m, "StudyDescription"),
        modalities=tuple(sorted(v for v in text_of(m, "ModalitiesInStudy").split("\\") if v)),
        number_of_series=int_of(m, "NumberOfStudyRelatedSeries"),
        number_of_instances=int_of(m, "NumberOfStudyRelatedInstances"),
    )


def series_records(study_uid: str, matches: Iterable[Dataset]) -> list[SeriesRecord]:
    """Series-level matches, in Series Number order (unnumbered last)."""
    records = [
        SeriesRecord(
            study_uid=study_uid,
            series_uid=text_of(m, "SeriesInstanceUID"),
            modality=text_of(m, "Modality"),
            series_number=int_of(m, "SeriesNumber"),
            series_description=text_of(m, "SeriesDescription"),
            body_part=text_of(m, "BodyPartExamined"),
            number_of_instances=int_of(m, "NumberOfSeriesRelatedInstances"),
        )
        for m in matches
    ]
    return sorted(records, key=lambda r: (r.series_number is None, r.series_number or 0))


def instance_records(
    study_uid: str, series_uid: str, matches: Iterable[Dataset]
) -> list[InstanceRecord]:
    """Image-level matches, in Instance Number order (``order_instances``)."""
    return order_instances(
        [
            InstanceRecord(
                study_uid=study_uid,
                series_uid=series_uid,
                sop_uid=text_of(m, "SOPInstanceUID"),
                sop_class_uid=text_of(m, "SOPClassUID"),
                instance_number=int_of(m, "InstanceNumber"),
                number_of_frames=int_of(m, "NumberOfFrames"),
            )
            for m in matches
        ]
    )


class Pacs(abc.ABC):
    """A PACS seen from the gateway. Every method is async and never blocks the event loop."""

    @abc.abstractmethod
    async def echo(self) -> None:
        """Check the PACS answers (C-ECHO, a QIDO query, or the folder being readable)."""

    @abc.abstractmethod
    async def find_studies(self, query: StudyQuery | None = None) -> list[StudyRecord]: ...

    @abc.abstractmethod
    async def find_series(self, study_uid: str) -> list[SeriesRecord]: ...

    @abc.abstractmethod
    async def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceRecord]:
        """The instances of a series, in InstanceNumber order."""

    @abc.abstractmethod
    def retrieve_series(
        self, study_uid: str, series_uid: str, *, first_sop_uid: str | None = None
    ) -> AsyncGenerator[RetrievalItem, None]:
        """Stream a series instance by instance, ``first_sop_uid`` first if given.

        A malformed object becomes a ``RetrievalFailure`` and the stream goes on; a failure of the
        whole operation (timeout, failure status…) raises ``PacsError`` from the iterator.
        """

    @abc.abstractmethod
    async def store(self, dataset: Dataset) -> None:
        """Store one object (write-back); idempotent on SOP Instance UID."""

    async def aclose(self) -> None:  # noqa: B027 — adapters without resources need nothing here
        """Release connections and threads."""

    async def __aenter__(self) -> Pacs:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def with_file_meta(dataset: Dataset) -> Dataset:
    """A shallow copy of ``dataset`` with complete file meta (explicit VR LE unless it says)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds = Dataset(dataset)
    meta = FileMetaDataset(getattr(dataset, "file_meta", FileMetaDataset()))
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128  # PS3.10 7.1: some writers only add it when asked
    return ds


def require_storable(dataset: Dataset) -> None:
    """Refuse to store an object without valid identifying UIDs (PS3.5 9.1; PS3.4 B.4.1.3)."""
    for keyword in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        if not is_valid_uid(str(dataset.get(keyword, ""))):
            raise PacsError(
                PacsErrorCode.MALFORMED_OBJECT, f"an object to store needs a valid {keyword}"
            )
