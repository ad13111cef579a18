"""Rendering benchmark for imaging/ (not a timed test): ``python -m bench.render``.

Prints p50/p95 for a 512×512 CT slice built in code: warm window+JPEG and window+PNG from a cached
Frame, the pieces (LUT vs float windowing, Pillow vs simplejpeg), and the cold path from bytes
(read, decode, window, JPEG) by the fast reader and by pydicom, interleaved round by round with
Orthanc's /instances/{id}/frames/0/rendered for the same slice (Orthanc started here on free ports
with a temporary storage directory), for a bare slice and one with a scanner-like header.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial

import numpy as np
import simplejpeg
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from imaging import (
    Window,
    decode_frame,
    encode_jpeg,
    encode_png,
    fast_frame,
    read_dataset,
    read_frame,
    render,
)

WINDOW = Window(40.0, 400.0)


def ct_slice_bytes(size: int = 512, *, rich: bool = False) -> bytes:
    """A CT-like 512² slice: body disc, bone ring, noise; 12-bit stored, intercept −1024.

    ``rich`` adds a header like a scanner's (≈ 150 elements: acquisition attributes, nested
    sequences, private blocks), which costs a per-element parser more than the bare slice does.
    """
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:size, 0:size]
    r = np.hypot(y - size / 2, x - size / 2) / (size / 2)
    hu = np.where(r < 0.8, 40.0, -1000.0)
    hu = np.where((r > 0.7) & (r < 0.8), 900.0, hu) + rng.normal(0, 12, (size, size))
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = uid = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientName, ds.PatientID = "CT", "Bench^Phantom", "BENCH"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.WindowCenter, ds.WindowWidth = WINDOW.center, WINDOW.width
    ds.PixelData = np.clip(hu + 1024, 0, 4095).astype("<u2").tobytes()
    if rich:
        _scanner_header(ds)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _scanner_header(ds: Dataset) -> None:
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    for keyword, value in {
        "StudyDate": "20240101", "SeriesDate": "20240101", "AcquisitionDate": "20240101",
        "ContentDate": "20240101", "StudyTime": "101010", "SeriesTime": "101011",
        "AcquisitionTime": "101012.5", "ContentTime": "101013", "AccessionNumber": "BENCH1",
        "Manufacturer": "Bench", "InstitutionName": "Bench Hospital",
        "ReferringPhysicianName": "Ref^Doc", "StationName": "CT01",
        "StudyDescription": "CT CHEST", "SeriesDescription": "AXIAL 1.0",
        "ManufacturerModelName": "Model", "PatientBirthDate": "19700101", "PatientSex": "O",
        "PatientAge": "054Y", "BodyPartExamined": "CHEST", "ScanOptions": "HELICAL MODE",
        "SliceThickness": 1.0, "KVP": 120, "DataCollectionDiameter": 500.0,
        "SoftwareVersions": "1.0", "ReconstructionDiameter": 360.0,
        "DistanceSourceToDetector": 946.7, "DistanceSourceToPatient": 541.0,
        "GantryDetectorTilt": 0.0, "TableHeight": 150.0, "RotationDirection": "CW",
        "ExposureTime": 500, "XRayTubeCurrent": 200, "Exposure": 100,
        "FilterType": "BODY FILTER", "GeneratorPower": 24, "FocalSpots": 0.7,
        "ConvolutionKernel": "STANDARD", "PatientPosition": "HFS", "StudyID": "1",
        "SeriesNumber": 2, "AcquisitionNumber": 1, "InstanceNumber": 40,
        "ImagePositionPatient": [-180.0, -180.0, -40.5],
        "ImageOrientationPatient": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        "FrameOfReferenceUID": generate_uid(), "PositionReferenceIndicator": "SN",
        "SliceLocation": -40.5, "PixelSpacing": [0.703125, 0.703125],
        "RescaleType": "HU", "SmallestImagePixelValue": 0, "LargestImagePixelValue": 4095,
    }.items():  # fmt: skip
        setattr(ds, keyword, value)
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = CTImageStorage, generate_uid()
    ds.ReferencedImageSequence = [ref, ref, ref]
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "CTCHEST", "L", "CT Chest"
    ds.ProcedureCodeSequence = [code]
    request = Dataset()
    request.RequestedProcedureID, request.RequestedProcedureCodeSequence = "RP1", [code]
    ds.RequestAttributesSequence = [request]
    for group in (0x0009, 0x0019, 0x0021, 0x0043):
        ds.add_new((group, 0x0010), "LO", "BENCH PRIVATE")
        for i in range(20):
            vr, value = (("DS", "1.5"), ("LO", "private value"), ("SS", 7), ("SL", 70))[i % 4]
            ds.add_new((group, 0x1000 + i), vr, value)


def timings(fn: Callable[[], object], repeat: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def line(name: str, values: list[float]) -> dict[str, float]:
    p50, p95, low = pct(values, 50), pct(values, 95), min(values)
    print(f"{name:<50} p50 {p50:7.3f}  p95 {p95:7.3f}  min {low:7.3f} ms  (n={len(values)})")
    return {"p50": p50, "p95": p95, "min": low}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def orthanc() -> Iterator[int | None]:
    """Orthanc on free ports with a temporary config and storage; None if not installed."""
    binary = shutil.which("Orthanc") or (
        "/usr/sbin/Orthanc" if os.path.exists("/usr/sbin/Orthanc") else None
    )
    if binary is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        config = {
            "Name": "bench", "HttpPort": port, "DicomPort": _free_port(),
            "StorageDirectory": tmp, "IndexDirectory": tmp, "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False, "Plugins": [], "HttpCompressionEnabled": False,
        }  # fmt: skip
        path = os.path.join(tmp, "orthanc.json")
        with open(path, "w") as fh:
            json.dump(config, fh)
        proc = subprocess.Popen(
            [binary, path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/system")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    time.sleep(0.2)
            else:
                raise RuntimeError("Orthanc did not start within 30 s")
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def orthanc_renderer(port: int, data: bytes) -> Callable[[], None]:
    """Store ``data`` in Orthanc and return a fetch of its /frames/0/rendered JPEG."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/instances", body=data, headers={"Content-Type": "application/dicom"})
    answer = json.loads(conn.getresponse().read())
    path = f"/instances/{answer['ID']}/frames/0/rendered"

    def fetch() -> None:
        conn.request("GET", path, headers={"Accept": "image/jpeg"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or body[:2] != b"\xff\xd8":
            raise RuntimeError(f"Orthanc answered {response.status}")

    return fetch


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Time each function once per round, in turn, so machine load falls on all of them alike."""
    for fn in fns.values():
        for _ in range(20):
            fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            out[name].append((time.perf_counter() - start) * 1000.0)
    return out


def cold_fast(data: bytes) -> bytes:
    return encode_jpeg(render(read_frame(data, 0)))


def cold_pydicom(data: bytes) -> bytes:
    return encode_jpeg(render(decode_frame(read_dataset(data), 0)))


def cold_comparison(port: int | None, repeat: int) -> None:
    """Cold path (bytes → JPEG) by the fast reader, by pydicom, and Orthanc's rendered frame."""
    for label, data in (("bare 512² CT", ct_slice_bytes()),
                        ("512² CT, scanner-like header", ct_slice_bytes(rich=True))):  # fmt: skip
        assert fast_frame(data, 0) is not None, "the bench slice must take the fast path"
        fns: dict[str, Callable[[], object]] = {
            "cold via fast reader (read_frame)": partial(cold_fast, data),
            "cold via pydicom (read_dataset+decode_frame)": partial(cold_pydicom, data),
        }
        if port is not None:
            fns["Orthanc /frames/0/rendered (HTTP keep-alive)"] = orthanc_renderer(port, data)
        print(f"— cold, {label} ({len(data)} bytes), interleaved, load {os.getloadavg()[0]:.2f} —")
        results = {name: line(name, values) for name, values in interleaved(fns, repeat).items()}
        orthanc_name = "Orthanc /frames/0/rendered (HTTP keep-alive)"
        if orthanc_name in results:
            o = results[orthanc_name]
            for name, r in results.items():
                if name != orthanc_name:
                    print(f"  ratio {name.split(' (')[0]} / Orthanc: p50 {r['p50'] / o['p50']:.2f}, "
                          f"p95 {r['p95'] / o['p95']:.2f}  (< 1: we are faster)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=500)
    parser.add_argument("--no-orthanc", action="store_true")
    args = parser.parse_args()
    n = args.repeat
    data = ct_slice_bytes()
    frame = decode_frame(read_dataset(data), 0)
    img = render(frame, window=WINDOW)
    print(f"load average (1/5/15 min) at the start: {os.getloadavg()}")
    print(f"512×512 CT slice, {len(data)} bytes; cached Frame {frame.nbytes} bytes "
          f"({frame.pixels.dtype}); numpy {np.__version__}")  # fmt: skip
    print("— pieces —")
    line(
        "window (uint8 LUT indexed by stored value)",
        timings(lambda: render(frame, window=WINDOW), n),
    )

    compact = frame.pixels  # what the cache holds (uint16 stored values)

    def float_window() -> np.ndarray:
        # The same LINEAR window as float32 affine math on the cached stored values: only valid
        # for rescale + LINEAR, and its rounding differs from dcmtk at level boundaries.
        scale = np.float32(255.0 / (WINDOW.width - 1))
        lo = WINDOW.center - 0.5 - (WINDOW.width - 1) / 2 - (frame.offset - 1024)
        tmp = compact.astype(np.float32)
        tmp -= np.float32(lo)
        tmp *= scale
        np.clip(tmp, 0, 255, out=tmp)
        return tmp.astype(np.uint8)

    line("window (float32 affine on stored values)", timings(float_window, n))
    line("JPEG q90 simplejpeg", timings(lambda: encode_jpeg(img, quality=90), n))

    def pillow_jpeg() -> bytes:
        out = io.BytesIO()
        Image.fromarray(img).save(out, format="JPEG", quality=90)
        return out.getvalue()

    line("JPEG q90 Pillow", timings(pillow_jpeg, n))
    line("PNG level 1 Pillow", timings(lambda: encode_png(img), n // 2))

    def pillow_webp() -> bytes:
        out = io.BytesIO()
        Image.fromarray(img).save(out, format="WEBP", quality=80, method=0)
        return out.getvalue()

    line("WebP q80 method 0 Pillow (optional format)", timings(pillow_webp, n // 5))
    print(f"sizes: JPEG q90 {len(encode_jpeg(img))} B, PNG {len(encode_png(img))} B, "
          f"simplejpeg decodes to {simplejpeg.decode_jpeg(encode_jpeg(img), colorspace='GRAY').shape}")  # fmt: skip
    print("— paths —")
    warm_jpeg = line("warm: cached Frame → window → JPEG q90",
                     timings(lambda: encode_jpeg(render(frame, window=WINDOW)), n))  # fmt: skip
    line(
        "warm: cached Frame → window → PNG",
        timings(lambda: encode_png(render(frame, window=WINDOW)), n // 2),
    )
    line("warm: preview 256×256 → JPEG q75",
         timings(lambda: encode_jpeg(render(frame, window=WINDOW, size=(256, 256)), quality=75), n))  # fmt: skip

    with orthanc() if not args.no_orthanc else nullcontext(None) as port:
        if port is None:
            print("Orthanc not running here: no comparison")
        cold_comparison(port, n // 2)
    goal = "met" if warm_jpeg["p50"] <= 1.5 else "NOT met"
    print(f"goal warm JPEG p50 ≤ 1.5 ms: {goal} ({warm_jpeg['p50']:.3f} ms)")
    print(f"load average (1/5/15 min) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
