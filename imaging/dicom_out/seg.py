"""Brush masks as a binary Segmentation (PS3.3 A.51, C.8.20), one segment per label."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import highdicom as hd
import numpy as np

from imaging.dicom_out import concepts
from imaging.dicom_out.checks import (
    character_set,
    check_document,
    check_unique,
    index_sources,
    provenance_texts,
    resolve,
    set_timezone,
)
from imaging.dicom_out.errors import WritebackError, WritebackErrorCode
from imaging.dicom_out.model import Provenance, SourceImage, Superseded
from imaging.dicom_out.shapes import SegmentMask
from imaging.dicom_out.uids import tracking_uid_for

E = WritebackErrorCode
SEG_SERIES_NUMBER = 9702
# Content Label (CS, PS3.3 10.9): upper case, digits, underscore, ≤ 16 characters.
CONTENT_LABEL = "RHINO_LABELS"
SUPERSEDES_PREFIX = "supersedes "


def build_segmentation(
    masks: Sequence[SegmentMask],
    *,
    sources: Sequence[SourceImage],
    provenance: Provenance,
    sop_instance_uid: str,
    series_instance_uid: str,
    instance_number: int = 1,
    series_number: int = SEG_SERIES_NUMBER,
    supersedes: Superseded | None = None,
) -> hd.seg.Segmentation:
    """One revision of a task's brush masks as a BINARY Segmentation.

    ``sources`` are the source images the masks are drawn on: one multi-frame instance, or
    single-frame instances of one series (highdicom builds a SEG from one series; the gateway
    writes one SEG stream per task, and a task is one series). Raises ``WritebackError`` for any bad input before anything is built.
    """
    index = index_sources(sources)
    check_document(
        sop_instance_uid=sop_instance_uid,
        series_instance_uid=series_instance_uid,
        instance_number=instance_number,
        series_number=series_number,
        provenance=provenance,
        supersedes=supersedes,
    )
    segments = tuple(masks)
    if not segments:
        raise WritebackError(E.NOTHING_TO_WRITE, "a segmentation needs at least one mask")
    for mask in segments:
        if not isinstance(mask, SegmentMask):
            raise WritebackError(E.NOT_SUPPORTED, "masks must be SegmentMask objects")
    check_unique((m.uid for m in segments), "mask")

    used: dict[str, SourceImage] = {}
    for mask in segments:
        seen: set[tuple[str, int | None]] = set()
        any_pixel = False
        for plane in mask.planes:
            source = resolve(plane.image, index)
            if plane.pixels.shape != (source.rows, source.columns):
                raise WritebackError(
                    E.MASK_SHAPE,
                    f"mask {mask.uid!r}: plane shape "
                    f"{plane.pixels.shape} differs from the image's Rows × "
                    f"Columns ({source.rows}, {source.columns})",
                )
            key = (plane.image.sop_instance_uid, plane.image.frame_number)
            if key in seen:
                raise WritebackError(E.DUPLICATE, f"mask {mask.uid!r} has two planes for {key}")
            seen.add(key)
            any_pixel = any_pixel or bool(plane.pixels.any())
            used[source.sop_instance_uid] = source
        if not any_pixel:
            # An empty segment says nothing; the caller leaves erased labels out instead.
            raise WritebackError(E.EMPTY_MASK, f"mask {mask.uid!r} ({mask.label.key}) is empty")
    chosen = [s for s in index.values() if s.sop_instance_uid in used]
    if len({s.series_instance_uid for s in chosen}) != 1:
        raise WritebackError(
            E.MIXED_SOURCES, "all masks of one segmentation must be drawn on one series"
        )
    if any(s.is_multiframe for s in chosen) and len(chosen) != 1:
        raise WritebackError(
            E.MIXED_SOURCES, "masks on a multi-frame image must all be on that one image"
        )
    if any(s.frame_of_reference_uid is None for s in chosen):
        raise WritebackError(
            E.MISSING_ATTRIBUTE,
            "source images need a Frame of Reference UID for a segmentation of their planes",
        )

    pixels = _pixel_array(segments, chosen)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=mask.label.key,
            segmented_property_category=concepts.SEGMENT_CATEGORIES[mask.category],
            segmented_property_type=concepts.to_code(mask.label.concept),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            tracking_uid=tracking_uid_for(mask.uid),
            tracking_id=f"{mask.label.key}/mask/{mask.uid}",
            display_color=hd.color.CIELabColor.from_rgb(*mask.label.rgb),
        )
        for number, mask in enumerate(segments, start=1)
    ]
    when = provenance.timestamp
    # Only when needed: without the keyword highdicom inherits the source's character set.
    texts = [*provenance_texts(provenance), *(t for m in segments for t in (m.label.meaning,))]
    charset: dict[str, Any] = (
        {"specific_character_set": name} if (name := character_set(texts)) else {}
    )
    seg = hd.seg.Segmentation(
        source_images=[s.dataset for s in chosen],
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_instance_uid,
        series_number=series_number,
        sop_instance_uid=sop_instance_uid,
        instance_number=instance_number,
        manufacturer=provenance.software_name,
        manufacturer_model_name=provenance.software_name,
        software_versions=provenance.software_version,
        device_serial_number=provenance.device_observer_uid,
        content_label=CONTENT_LABEL,
        content_description=provenance.session_text[:64],
        content_creator_name=f"{provenance.observer}^",
        series_description=f"Rhino masks {provenance.project}"[:64],
        content_date=when.date(),
        content_time=when.time().replace(tzinfo=None),
        omit_empty_frames=True,
        **charset,
    )
    # Derivation Description (ST ≤ 1024, General Reference Module C.12.4.1): the full provenance,
    # which Content Description (LO ≤ 64) may truncate, and the superseded instance, since the SEG
    # IOD has no Predecessor Documents Sequence (that is SR only, C.17.2.1). read_back parses it.
    derivation = f"manual brush masks; {provenance.session_text}"
    if supersedes is not None:
        derivation += f"; {SUPERSEDES_PREFIX}{supersedes.sop_instance_uid}"
    seg.DerivationDescription = derivation[:1024]
    set_timezone(seg, when)
    return seg


def _pixel_array(segments: Sequence[SegmentMask], chosen: Sequence[SourceImage]) -> np.ndarray:
    """(frames, rows, columns, segments) booleans in highdicom's source-frame order."""
    first = chosen[0]
    positions: dict[tuple[str, int | None], int]
    if first.is_multiframe:
        positions = {
            (first.sop_instance_uid, f): f - 1 for f in range(1, first.number_of_frames + 1)
        }
        frames = first.number_of_frames
    else:
        positions = {(s.sop_instance_uid, None): i for i, s in enumerate(chosen)}
        positions.update({(s.sop_instance_uid, 1): i for i, s in enumerate(chosen)})
        frames = len(chosen)
    array = np.zeros((frames, first.rows, first.columns, len(segments)), dtype=bool)
    for number, mask in enumerate(segments):
        for plane in mask.planes:
            array[
                positions[(plane.image.sop_instance_uid, plane.image.frame_number)], :, :, number
            ] = plane.pixels
    return array
