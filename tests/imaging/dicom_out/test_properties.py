"""Property: any in-bounds geometry survives build → bytes → dcmread → read_back unchanged."""

from __future__ import annotations

from io import BytesIO

import pydicom
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from imaging.dicom_out import ImageRef, build_measurement_report, derive_uid
from imaging.dicom_out.reader import read_back
from imaging.dicom_out.shapes import Annotation, Ellipse, Freehand, Point, Polygon, Rectangle
from tests.imaging.dicom_out import sources as src

SERIES = src.ct_series(1)
IMAGE = ImageRef(SERIES[0].SOPInstanceUID)
SCHEMA = {label.key: label for label in (src.LESION, src.MARKER)}


def eighths(limit: int) -> st.SearchStrategy[float]:
    # Multiples of 1/8 are exact in float32 (Graphic Data is FL), so == is the right comparison.
    return st.integers(0, limit * 8).map(lambda v: v / 8)


xs, ys = eighths(src.COLUMNS), eighths(src.ROWS)


@st.composite
def rectangles(draw: st.DrawFn, uid: str) -> Rectangle:
    x0, x1 = draw(st.lists(xs, min_size=2, max_size=2, unique=True))
    y0, y1 = draw(st.lists(ys, min_size=2, max_size=2, unique=True))
    return Rectangle(uid, src.LESION, IMAGE, x0=x0, y0=y0, x1=x1, y1=y1)


@st.composite
def ellipses(draw: st.DrawFn, uid: str) -> Ellipse:
    cx, cy = draw(eighths(src.COLUMNS - 2).map(lambda v: v + 1)), draw(eighths(src.ROWS - 2))
    cy += 1
    rx = draw(eighths(int(min(cx, src.COLUMNS - cx))).filter(lambda v: v > 0))
    ry = draw(eighths(int(min(cy, src.ROWS - cy))).filter(lambda v: v > 0))
    return Ellipse(uid, src.LESION, IMAGE, cx=cx, cy=cy, rx=rx, ry=ry)


@st.composite
def polygons(draw: st.DrawFn, uid: str) -> Polygon:
    vertices = draw(st.lists(st.tuples(xs, ys), min_size=3, max_size=40, unique=True))
    cls = draw(st.sampled_from([Polygon, Freehand]))
    return cls(uid, src.LESION, IMAGE, vertices=tuple(vertices))


def annotation_lists() -> st.SearchStrategy[list[Annotation]]:
    def one(index: int) -> st.SearchStrategy[Annotation]:
        uid = f"a{index}"
        points = st.builds(lambda x, y: Point(uid, src.MARKER, IMAGE, x=x, y=y), xs, ys)
        return st.one_of(rectangles(uid), ellipses(uid), polygons(uid), points)

    return st.integers(1, 4).flatmap(lambda n: st.tuples(*(one(i) for i in range(n)))).map(list)


def reread(ds: Dataset) -> Dataset:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotation_lists())
def test_geometry_round_trips(items: list[Annotation]) -> None:
    ds = build_measurement_report(
        items,
        sources=src.sources(SERIES),
        provenance=src.provenance(),
        sop_instance_uid=derive_uid("property/sr"),
        series_instance_uid=derive_uid("property/series"),
    )
    back = read_back(reread(ds), SCHEMA)
    assert sorted(back.annotations, key=lambda a: a.uid) == items
