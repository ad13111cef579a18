"""Series geometry: order along the normal, spacing checks, volumes and MPR with true aspect."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from imaging import (
    ImagingError,
    ImagingErrorCode,
    Plane,
    Window,
    assemble_volume,
    decode_frame,
    frame_geometries,
    group_series,
    plane_frame,
    read_dataset,
    render,
    reslice,
    series_geometry,
)
from imaging.frames import Frame
from tests.imaging.builders import ct_dataset, to_bytes

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def slice_frames(zs: list[float], *, orientation: tuple[float, ...] = AXIAL) -> list[Frame]:
    """Slices whose pixel value encodes z, so order and interpolation are checkable."""
    frames = []
    for n, z in enumerate(zs):
        pixels = np.full((6, 4), 1024 + int(z * 10), dtype=np.uint16)
        pixels[0, 0] = 0  # keep a common stored range
        ds = ct_dataset(6, 4, position=(0.0, 0.0, z), orientation=orientation, instance=len(zs) - n,
                        pixels=pixels, spacing=(0.5, 0.8))  # fmt: skip
        frames.append(decode_frame(read_dataset(to_bytes(ds)), 0))
    return frames


def test_sorts_along_the_normal_not_by_instance_number() -> None:
    zs = [3.0, -1.0, 1.0, 0.0, 2.0]
    geometry = series_geometry(slice_frames(zs))
    assert [zs[i] for i in geometry.order] == [-1.0, 0.0, 1.0, 2.0, 3.0]
    assert geometry.spacing == pytest.approx(1.0)
    assert not geometry.uneven_spacing
    assert geometry.gaps == ()
    assert geometry.normal == pytest.approx((0.0, 0.0, 1.0))


def test_oblique_series_sorts_by_projection_on_the_normal() -> None:
    c, s = np.cos(0.3), np.sin(0.3)
    orientation = (1.0, 0.0, 0.0, 0.0, c, s)  # tilted gantry: normal = (0, −s, c)
    normal = np.array([0.0, -s, c])
    frames = []
    for d in (2.0, 0.0, 1.0):
        p = d * normal + np.array([5.0, 1.0, 0.0])
        ds = ct_dataset(
            4, 4, position=(float(p[0]), float(p[1]), float(p[2])), orientation=orientation
        )
        frames.append(decode_frame(read_dataset(to_bytes(ds)), 0))
    geometry = series_geometry(frames)
    assert geometry.order == (1, 2, 0)
    assert geometry.spacing == pytest.approx(1.0)


def test_detects_gaps_uneven_spacing_duplicates_and_mixed_orientation() -> None:
    gap = series_geometry(slice_frames([0.0, 1.0, 2.0, 5.0, 6.0]))
    assert gap.gaps == (2,)
    assert gap.uneven_spacing
    duplicate = series_geometry(slice_frames([0.0, 1.0, 1.0, 2.0]))
    assert duplicate.duplicates == (1,)
    mixed = slice_frames([0.0, 1.0]) + slice_frames(
        [2.0], orientation=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    )
    geometry = series_geometry(mixed)
    assert geometry.mixed_orientation
    with pytest.raises(ImagingError) as err:
        assemble_volume(mixed, geometry)
    assert err.value.code is ImagingErrorCode.GEOMETRY


def test_missing_position_is_a_geometry_error() -> None:
    ds = ct_dataset(4, 4)
    del ds.ImagePositionPatient
    with pytest.raises(ImagingError) as err:
        series_geometry([read_dataset(to_bytes(ds))])
    assert err.value.code is ImagingErrorCode.GEOMETRY


def test_volume_is_sorted_and_resampled_across_a_gap() -> None:
    zs = [4.0, 0.0, 1.0, 2.0]  # missing z=3
    frames = slice_frames(zs)
    geometry = series_geometry(frames)
    volume = assemble_volume(frames, geometry)
    assert volume.shape == (5, 6, 4)
    # Value at (1,1) is z × 10 HU (stored 1024 + 10z, intercept −1024): z=3 interpolated.
    assert volume[:, 1, 1] == pytest.approx([0.0, 10.0, 20.0, 30.0, 40.0])
    raw = assemble_volume(frames, geometry, uniform=False)
    assert raw.shape == (4, 6, 4)


def test_mpr_planes_have_true_aspect() -> None:
    frames = slice_frames([0.0, 2.0, 4.0])  # 2 mm slices, pixels 0.5 × 0.8 mm
    geometry = series_geometry(frames)
    volume = assemble_volume(frames, geometry)
    axial, axial_mm = reslice(volume, geometry, Plane.AXIAL, 1)
    assert axial.shape == (6, 4)
    assert axial_mm == (0.5, 0.8)
    coronal, coronal_mm = reslice(volume, geometry, Plane.CORONAL, 2)
    assert coronal.shape == (3, 4)
    assert coronal_mm == (2.0, 0.8)
    assert coronal[0, 1] == pytest.approx(40.0)  # highest slice (head) at the top
    sagittal, sagittal_mm = reslice(volume, geometry, Plane.SAGITTAL, 1)
    assert sagittal.shape == (3, 6)
    assert sagittal_mm == (2.0, 0.5)
    frame = plane_frame(sagittal, sagittal_mm, like=frames[0])
    img = render(frame, window=Window(20, 100), aspect=True)
    assert img.shape == (12, 6)  # 3 rows of 2 mm → 12 rows of 0.5 mm
    with pytest.raises(ImagingError):
        reslice(volume, geometry, Plane.SAGITTAL, 4)


def test_plane_frame_keeps_exact_integer_values() -> None:
    values = np.array([[-1000.0, 0.0], [40.0, 3000.0]], dtype=np.float32)
    like = slice_frames([0.0])[0]
    frame = plane_frame(values, (1.0, 1.0), like=like)
    recovered = frame.modality.apply(frame.pixels.astype(np.float64) + frame.offset)
    np.testing.assert_array_equal(recovered, values)
    fractional = plane_frame((values / 7).astype(np.float32), (1.0, 1.0), like=like)
    back = fractional.modality.apply(fractional.pixels.astype(np.float64))
    np.testing.assert_allclose(back, values / 7, atol=(4000 / 7) / 65535)


def test_enhanced_multiframe_geometry_per_frame() -> None:
    ds = ct_dataset(4, 4)
    del ds.ImagePositionPatient
    ds.NumberOfFrames = 3
    ds.PixelData = np.zeros((3, 4, 4), dtype="<u2").tobytes()
    items = []
    for z in (2.0, 0.0, 1.0):
        position, item = Dataset(), Dataset()
        position.ImagePositionPatient = [0.0, 0.0, z]
        item.PlanePositionSequence = [position]
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = items
    geometry = series_geometry(frame_geometries(read_dataset(to_bytes(ds))))
    assert geometry.order == (1, 2, 0)
    assert geometry.spacing == pytest.approx(1.0)


def test_group_series_then_sort_each() -> None:
    a = [ct_dataset(4, 4, series_uid="1.2.3", position=(0, 0, z)) for z in (2.0, 0.0, 1.0)]
    b = [ct_dataset(4, 4, series_uid="1.2.4", position=(0, 0, z)) for z in (5.0, 4.0)]
    groups = group_series([a[0], b[0], a[1], b[1], a[2]])
    assert sorted(groups) == ["1.2.3", "1.2.4"]
    assert series_geometry(groups["1.2.3"]).order == (1, 2, 0)
    assert series_geometry(groups["1.2.4"]).order == (1, 0)
