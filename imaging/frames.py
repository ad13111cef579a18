"""Decode one frame into a compact, cacheable ``Frame`` (PS3.3 C.7.6.3, C.7.6.16)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels.decoders.base import Decoder, get_decoder
from pydicom.uid import UID

from imaging.attrs import check_pixel_limits, frames_of, int_value, require_int
from imaging.color import to_rgb8
from imaging.errors import ImagingError, ImagingErrorCode
from imaging.frame_attrs import FrameAttributes, frame_attributes
from imaging.jpegfix import SEQUENTIAL, repaired_single_frame
from imaging.limits import DEFAULT_LIMITS, Limits
from imaging.native import native_grey_frame
from imaging.overlays import Overlay, overlays_of
from imaging.sniff import codestream_size
from imaging.voi import Lut, ModalityTransform, VoiFunction, Window

_GREY = frozenset({"MONOCHROME1", "MONOCHROME2"})


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded frame. Grey: stored values minus ``offset``; colour: RGB ``uint8``."""

    rows: int
    columns: int
    photometric: str
    pixels: npt.NDArray[np.unsignedinteger]
    offset: int = 0
    stored_max: int = 0  # largest pixel value in ``pixels`` (grey only)
    modality: ModalityTransform = field(default_factory=ModalityTransform)
    windows: tuple[Window, ...] = ()
    voi_function: VoiFunction = VoiFunction.LINEAR
    voi_luts: tuple[Lut, ...] = ()
    presentation_inverse: bool = False
    pixel_spacing: tuple[float, float] | None = None
    image_position: tuple[float, float, float] | None = None
    image_orientation: tuple[float, ...] | None = None
    slice_thickness: float | None = None
    overlays: tuple[Overlay, ...] = ()

    @property
    def is_color(self) -> bool:
        return self.pixels.ndim == 3

    @property
    def default_window(self) -> Window | None:
        return self.windows[0] if self.windows else None

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)


def frame_count(ds: Dataset) -> int:
    return frames_of(ds)


def _expected_native_bytes(ds: Dataset, photometric: str) -> int:
    rows, columns = require_int(ds, "Rows"), require_int(ds, "Columns")
    samples = int_value(ds, "SamplesPerPixel") or 1
    allocated = require_int(ds, "BitsAllocated")
    if photometric in ("YBR_FULL_422", "YBR_PARTIAL_422"):
        # Two luminance values share one chroma pair (PS3.3 C.7.6.3.1.2).
        return rows * columns * 2 * allocated // 8
    return (rows * columns * samples * allocated + 7) // 8


def _check_codestream(ds: Dataset, index: int, frames: int) -> None:
    """Refuse a codestream that declares more pixels than Rows × Columns before decoding it.

    The codec allocates what the codestream says, not what the DICOM attributes say, so a
    crafted SIZ/SOF would otherwise bypass the pixel cap.
    """
    try:
        frame = get_frame(ds.PixelData, index, number_of_frames=frames)
    except Exception as exc:  # missing fragments, bad item tags
        raise ImagingError(
            ImagingErrorCode.TRUNCATED_PIXEL_DATA,
            f"encapsulated Pixel Data has no frame {index + 1}: {exc}",
        ) from exc
    size = codestream_size(frame[:65536])
    rows, columns = require_int(ds, "Rows"), require_int(ds, "Columns")
    if size is not None and size[0] * size[1] > rows * columns:
        raise ImagingError(
            ImagingErrorCode.INCONSISTENT_ATTRIBUTES,
            f"codestream of frame {index + 1} is {size[0]} × {size[1]}, "
            f"Rows × Columns is {rows} × {columns}",
        )


def _pixel_module(ds: Dataset) -> Dataset:
    """Only the Image Pixel attributes, with Number of Frames made conformant.

    pydicom's decoder converts Number of Frames with ``int()``; values such as "1A" (read by dcmtk
    as 1) would fail there, so the decoder gets a sanitised view sharing the original elements.
    """
    work = Dataset(
        {
            tag: ds[tag]
            # keys(): tags without converting every element (iterating ds would convert all).
            for tag in ds.keys()  # noqa: SIM118
            if tag >> 16 == 0x0028 or tag == 0x7FE00010
        }
    )
    work.file_meta = ds.file_meta
    work.NumberOfFrames = frames_of(ds)
    return work


def _decode_array(ds: Dataset, index: int) -> tuple[np.ndarray, str]:
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as exc:
        raise ImagingError(
            ImagingErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"Transfer Syntax UID {syntax} ({syntax.name}) has no pixel decoder",
        ) from exc
    if not decoder.is_available:
        raise ImagingError(
            ImagingErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"no installed plugin decodes {syntax.name}; install pylibjpeg-libjpeg, "
            "pylibjpeg-openjpeg, pylibjpeg-rle or pyjpegls",
        )
    work = _pixel_module(ds)
    try:
        arr, meta = _as_array(decoder, work, index)
    except Exception as exc:  # codecs raise ValueError, RuntimeError, OSError, …
        if syntax not in SEQUENTIAL:
            raise ImagingError(
                ImagingErrorCode.DECODE_FAILED, f"Pixel Data frame {index + 1}: {exc}"
            ) from exc
        try:
            arr, meta = _as_array(decoder, repaired_single_frame(work, index, frames_of(ds)), 0)
        except Exception as again:
            raise ImagingError(
                ImagingErrorCode.DECODE_FAILED, f"Pixel Data frame {index + 1}: {again}"
            ) from exc
    return arr, str(meta.get("photometric_interpretation", ""))


def _as_array(decoder: Decoder, work: Dataset, index: int) -> tuple[np.ndarray, dict[str, Any]]:
    # No warnings.catch_warnings() here: it swaps process-wide state and is not thread-safe
    # (the gateway decodes in a thread pool); pydicom's warnings about odd files pass through.
    arr, meta = decoder.as_array(work, index=index, as_rgb=True)  # type: ignore[arg-type]
    return arr, dict(meta)


def decode_frame(ds: Dataset, index: int, *, limits: Limits = DEFAULT_LIMITS) -> Frame:
    """Decode frame ``index`` (from 0) of ``ds`` with its modality/VOI/geometry attributes."""
    if "PixelData" not in ds:
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise ImagingError(
                ImagingErrorCode.UNSUPPORTED_PHOTOMETRIC, "Float Pixel Data is not rendered"
            )
        raise ImagingError(ImagingErrorCode.NO_PIXEL_DATA, "no Pixel Data (7FE0,0010)")
    check_pixel_limits(ds, limits)
    frames = frames_of(ds)
    if not 0 <= index < frames:
        raise ImagingError(
            ImagingErrorCode.FRAME_OUT_OF_RANGE,
            f"frame {index + 1} requested, Number of Frames is {frames}",
        )
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    if not photometric:
        raise ImagingError(
            ImagingErrorCode.MISSING_ATTRIBUTE, "Photometric Interpretation is required"
        )
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if not syntax.is_transfer_syntax:
        raise ImagingError(
            ImagingErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"Transfer Syntax UID (0002,0010) {str(syntax)[:64]!r} is not a transfer syntax",
        )
    if not syntax.is_encapsulated:
        expected = _expected_native_bytes(ds, photometric) * frames
        actual = len(ds.PixelData)
        if actual < expected:
            raise ImagingError(
                ImagingErrorCode.TRUNCATED_PIXEL_DATA,
                f"Pixel Data has {actual} bytes, Rows/Columns/Bits Allocated/Number of Frames "
                f"need {expected}",
            )
    if syntax.is_encapsulated:
        _check_codestream(ds, index, frames)
    native = native_grey_frame(ds, syntax, index) if photometric in _GREY else None
    if native is not None:
        arr, decoded_photometric = native, photometric
    else:
        arr, decoded_photometric = _decode_array(ds, index)
    attrs = frame_attributes(ds, index)
    rows, columns = int(arr.shape[0]), int(arr.shape[1])
    if photometric in _GREY:
        if arr.ndim != 2:
            raise ImagingError(
                ImagingErrorCode.INCONSISTENT_ATTRIBUTES,
                f"Photometric Interpretation {photometric} with Samples per Pixel > 1",
            )
        return _grey_frame(arr, photometric, attrs, overlays_of(ds, rows, columns))
    rgb = to_rgb8(ds, arr, photometric, decoded_photometric or photometric)
    return Frame(
        rows=rows,
        columns=columns,
        photometric="RGB",
        pixels=rgb,
        pixel_spacing=attrs.pixel_spacing,
        image_position=attrs.image_position,
        image_orientation=attrs.image_orientation,
        slice_thickness=attrs.slice_thickness,
        overlays=overlays_of(ds, rows, columns),
    )


def _grey_frame(
    arr: np.ndarray, photometric: str, attrs: FrameAttributes, overlays: tuple[Overlay, ...]
) -> Frame:
    if arr.dtype.kind == "f":
        raise ImagingError(ImagingErrorCode.UNSUPPORTED_PHOTOMETRIC, "float pixel values")
    lo, hi = int(arr.min()), int(arr.max())
    span = hi - lo
    # Compact storage: shift to start at 0 so the LUT index needs no subtraction per render.
    dtype: type[np.unsignedinteger] = (
        np.uint8 if span < 1 << 8 else np.uint16 if span < 1 << 16 else np.uint32
    )
    shifted = _shift(arr, lo, dtype)
    if _retains_more(shifted):
        shifted = shifted.copy()
    return Frame(
        rows=int(arr.shape[0]),
        columns=int(arr.shape[1]),
        photometric=photometric,
        pixels=shifted,
        offset=lo,
        stored_max=span,
        modality=attrs.modality,
        windows=attrs.windows,
        voi_function=attrs.voi_function,
        voi_luts=attrs.voi_luts,
        presentation_inverse=attrs.presentation_inverse,
        pixel_spacing=attrs.pixel_spacing,
        image_position=attrs.image_position,
        image_orientation=attrs.image_orientation,
        slice_thickness=attrs.slice_thickness,
        overlays=overlays,
    )


def _retains_more(arr: np.ndarray) -> bool:
    """True when ``arr`` views a buffer over twice its size (one frame of a multi-frame file).

    A cached Frame is accounted by its own bytes; a view would keep the whole file alive.
    """
    base = arr.base
    while isinstance(base, np.ndarray):
        base = base.base
    if base is None:
        return False
    try:
        held = memoryview(base).nbytes
    except TypeError:
        return False
    return held > 2 * arr.nbytes


def _shift(arr: np.ndarray, lo: int, dtype: type[np.unsignedinteger]) -> np.ndarray:
    """``arr − lo`` as ``dtype``; one pass, no wide temporary, for same-width integers.

    The result lies in 0 … span < 2**bits, so unsigned arithmetic modulo 2**bits (reinterpreting
    signed storage) gives it exactly.
    """
    if lo == 0 and arr.dtype == dtype:
        return arr
    if arr.dtype.isnative and arr.dtype.itemsize == np.dtype(dtype).itemsize:
        # (A big endian array from a big endian file must not be reinterpreted like this.)
        unsigned: np.ndarray = arr.view(dtype)
        shifted: np.ndarray = unsigned - dtype(lo % (1 << (8 * unsigned.itemsize)))
        return shifted
    wide: np.ndarray = (arr.astype(np.int64) - lo).astype(dtype)
    return wide
