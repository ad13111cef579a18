"""The lead's series browser at the site: a live PACS query answered with handles only.

``SeriesBrowser.query`` runs the site's PACS adapter (C-FIND, QIDO-RS or the folder index) for
studies and their series, enters every study and series it returns in the handle map, and answers
with de-identified records: handles instead of UIDs; no patient name, ID or accession number; the
study date reduced to its year; descriptions cleaned (PS3.15 E.3.5, ``imaging.deid``). The text
filter matches the *cleaned* descriptions only, so it cannot be used to probe for a patient's name.

``SeriesBrowser.thumbnail`` renders the middle slice of a series at ≤128 px through the viewer's
own path (``SeriesSource`` → ``RenderService``) and returns the JPEG with the slice thickness read
from it (a study or series query does not carry SliceThickness: it is an image attribute).
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydicom import Dataset

from imaging import ImagingError
from imaging.deid import series_summary
from site_gateway.handle_map import HandleError, HandleMap
from site_gateway.pacs import Pacs, PacsError, SeriesRecord, StudyQuery, StudyRecord
from site_gateway.protocol import ErrorCode, ProtocolError, Quality
from site_gateway.render_service import RenderService
from site_gateway.series_source import RequestError, SeriesSource, request_error

MAX_LIMIT: Final = 500
DEFAULT_LIMIT: Final = 200
# Studies looked at per query at most (filters on series may reject many of them).
SCAN_LIMIT: Final = 5000
THUMBNAIL_SIZE: Final = 128
CHECK_SIZE: Final = 512  # the largest preview a lead may ask for (a check, not a reading)
# Objects the product or other tools wrote about images, not images to select.
NOT_IMAGES: Final = frozenset({"KO", "SR", "PR", "SEG", "RTSTRUCT", "REG", "DOC"})
_MODALITY = re.compile(r"[A-Z0-9]{1,16}")
_FIND_SERIES_CONCURRENCY: Final = 16
# Studies whose series are asked per round of a scan (a round's series queries run concurrently).
_SCAN_CHUNK: Final = 64


@dataclass(frozen=True, slots=True)
class BrowseQuery:
    modality: str | None = None
    body_part: str | None = None
    text: str | None = None
    min_images: int = 0
    limit: int = DEFAULT_LIMIT


def _optional_text(raw: Mapping[str, Any], key: str, max_length: int) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_length or not value.isprintable():
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"query.{key} is printable text of at most {max_length} chars"
        )
    return value.strip() or None


def parse_thumbnail_options(message: Mapping[str, Any]) -> tuple[int | None, int]:
    """``index`` (optional, ≥ 0) and ``size`` (16…CHECK_SIZE, default THUMBNAIL_SIZE) of a
    ``browse.thumbnail``; ``ProtocolError`` says what would be valid."""
    index, size = message.get("index"), message.get("size", THUMBNAIL_SIZE)
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "index is an image index ≥ 0")
    if not isinstance(size, int) or isinstance(size, bool) or not 16 <= size <= CHECK_SIZE:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"size is 16…{CHECK_SIZE} pixels")
    return index, size


def parse_browse_query(raw: object) -> BrowseQuery:
    """Validate ``query`` of a ``browse.query``; ``ProtocolError`` says what would be valid."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "query is an object")
    unknown = set(raw) - {"modality", "body_part", "text", "min_images", "limit"}
    if unknown:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"unknown query keys: {sorted(unknown)}")
    modality = _optional_text(raw, "modality", 16)
    if modality is not None:
        modality = modality.upper()
        if not _MODALITY.fullmatch(modality):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "query.modality is a DICOM modality (CT)")
    min_images, limit = raw.get("min_images", 0), raw.get("limit", DEFAULT_LIMIT)
    for key, value, high in (("min_images", min_images, 100_000), ("limit", limit, MAX_LIMIT)):
        low = 0 if key == "min_images" else 1
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f"query.{key} is an integer {low}…{high}")
    return BrowseQuery(
        modality=modality,
        body_part=_optional_text(raw, "body_part", 64),
        text=_optional_text(raw, "text", 64),
        min_images=min_images,
        limit=limit,
    )


def _identifying(study: StudyRecord, description: str) -> Dataset:
    """A header with the study's identifying values, so that cleaning removes them from text."""
    ds = Dataset()
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.AccessionNumber = study.accession_number
    ds.StudyDate = study.study_date
    ds.SeriesDescription = description
    return ds


def clean_descriptor(study: StudyRecord, text: str, body_part: str = "") -> dict[str, Any]:
    """Cleaned description and body part (imaging's Clean Descriptors logic, E.3.5)."""
    ds = _identifying(study, text)
    if body_part:
        ds.BodyPartExamined = body_part
    summary = series_summary(ds, frames=0)
    return {"description": summary["series_description"], "body_part": summary["body_part"]}


def study_year(date: str) -> str | None:
    """The study date reduced to its year (docs/lead.md): enough to tell old from new."""
    return date[:4] if len(date) >= 4 and date[:4].isdigit() else None


def _contains(haystack: object, needle: str) -> bool:
    return isinstance(haystack, str) and needle.casefold() in haystack.casefold()


# (study, its cleaned description, [(series, its cleaned description and body part)])
_Selected = tuple[StudyRecord, str | None, list[tuple[SeriesRecord, dict[str, Any]]]]


def _wanted(series: SeriesRecord, query: BrowseQuery) -> bool:
    if series.modality.upper() in NOT_IMAGES:
        return False
    if query.modality is not None and series.modality.upper() != query.modality:
        return False
    return (series.number_of_instances or 0) >= query.min_images


def _select(
    candidates: list[tuple[StudyRecord, list[SeriesRecord]]], query: BrowseQuery, room: int
) -> list[_Selected]:
    """The studies with at least one series passing every filter, at most ``room`` of them."""
    out: list[_Selected] = []
    for study, series_list in candidates:
        if len(out) >= room:
            break
        cleaned_study = clean_descriptor(study, study.study_description)["description"]
        kept = []
        for series in series_list:
            if not _wanted(series, query):
                continue
            cleaned = clean_descriptor(study, series.series_description, series.body_part)
            if query.body_part is not None and not _contains(cleaned["body_part"], query.body_part):
                continue
            if query.text is not None and not (
                _contains(cleaned["description"], query.text)
                or _contains(cleaned_study, query.text)
            ):
                continue
            kept.append((series, cleaned))
        if kept:
            out.append((study, cleaned_study, kept))
    return out


class SeriesBrowser:
    def __init__(
        self,
        *,
        pacs: Pacs,
        handles: HandleMap,
        source: SeriesSource,
        renderer: RenderService,
        query_timeout: float = 30.0,
    ) -> None:
        self._pacs = pacs
        self._handles = handles
        self._source = source
        self._renderer = renderer
        self._timeout = query_timeout

    async def query(self, query: BrowseQuery) -> dict[str, Any]:
        """``{"studies": [...], "truncated": bool}``; ``RequestError`` for a PACS failure.

        Studies are looked at in chunks, each chunk's series asked concurrently, and every
        filter (modality, image count, cleaned body part and text) applied before a study counts
        towards ``limit``: the scan stops as soon as one study more than the limit matched (then
        ``truncated``), so a large PACS is not asked for the series of every study, and a filter
        never hides matches that lie beyond the first ``limit`` studies."""
        selected: list[_Selected] = []
        try:
            async with asyncio.timeout(self._timeout):  # not wait_for: see link.py
                studies = await self._pacs.find_studies(
                    StudyQuery(modality=query.modality, limit=SCAN_LIMIT)
                )
                for start in range(0, len(studies), _SCAN_CHUNK):
                    chunk = studies[start : start + _SCAN_CHUNK]
                    found = await self._series_of(chunk)
                    room = query.limit + 1 - len(selected)
                    selected += await asyncio.to_thread(
                        _select, list(zip(chunk, found, strict=True)), query, room
                    )
                    if len(selected) > query.limit:
                        break
        except TimeoutError:
            raise RequestError(
                ErrorCode.PACS_TIMEOUT, "the PACS did not answer the query"
            ) from None
        except PacsError as exc:
            raise request_error(exc) from None
        # more matches than the limit, or a PACS larger than one scan looks at
        truncated = len(selected) > query.limit or len(studies) >= SCAN_LIMIT
        studies_out = await asyncio.to_thread(self._records, selected[: query.limit])
        return {"studies": studies_out, "truncated": truncated}

    async def _series_of(self, studies: list[StudyRecord]) -> list[list[SeriesRecord]]:
        slots = asyncio.Semaphore(_FIND_SERIES_CONCURRENCY)

        async def one(study: StudyRecord) -> list[SeriesRecord]:
            async with slots:
                return await self._pacs.find_series(study.study_uid)

        return list(await asyncio.gather(*(one(s) for s in studies)))

    def _records(self, selected: list[_Selected]) -> list[dict[str, Any]]:
        """The answer: handles (entered in the map only for what is returned) and descriptors."""
        out = []
        for study, cleaned_study, series_list in selected:
            series_out = [
                {
                    "series": self._handles.add_series(study.study_uid, series.series_uid),
                    "modality": series.modality or None,
                    "body_part": cleaned["body_part"],
                    "description": cleaned["description"],
                    "images": series.number_of_instances,
                    "number": series.series_number,
                }
                for series, cleaned in series_list
            ]
            out.append(
                {
                    "study": self._handles.add_study(study.study_uid),
                    "year": study_year(study.study_date),
                    "modalities": sorted({s["modality"] for s in series_out if s["modality"]}),
                    "description": cleaned_study,
                    "series": series_out,
                }
            )
        return out

    async def thumbnail(
        self, series_handle: str, *, index: int | None = None, size: int = THUMBNAIL_SIZE
    ) -> dict[str, Any]:
        """One slice (the middle one unless ``index``) at ≤ ``size`` px as base64 JPEG — the
        browser's thumbnail, and the lead's read-only check of a series without a task;
        ``RequestError`` if it cannot be had."""
        try:
            state = await self._source.open(series_handle)
            if index is None:
                index = state.total // 2
            elif index >= state.total:
                raise RequestError(
                    ErrorCode.BAD_MESSAGE,
                    f"index is 0…{state.total - 1}: the series has {state.total} images",
                )
            record_index, frame_index = state.slices[index]
            path = await self._source.instance_path(state, record_index)
            frame = await self._renderer.frame(
                state.instance_handles[record_index], path, frame_index
            )
            rendered = await self._renderer.render(
                frame,
                quality=Quality.PREVIEW,
                window=None,
                size=(size, size),
            )
        except (ImagingError, HandleError, PacsError) as exc:
            raise request_error(exc) from None
        return {
            "index": index,
            "format": rendered.format,
            "image": base64.b64encode(rendered.image).decode("ascii"),
            "rows": rendered.rows,
            "columns": rendered.columns,
            "slice_thickness": frame.slice_thickness,
            "images": state.total,
        }
