"""A real PACS accepts every write-back object (Orthanc's REST ``POST /instances``), and dcentvfy
finds the written objects consistent with their sources."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset

from imaging.dicom_out import (
    ImageRef,
    InstanceRef,
    Length,
    MaskPlane,
    Rectangle,
    SegmentMask,
    SelectedSeries,
    SelectionDecision,
    SelectionReason,
    SourceImage,
    build_key_object_selection,
    build_measurement_report,
    build_segmentation,
    derive_uid,
)
from tests.imaging.dicom_out import sources as src
from tests.parts import require_binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = require_binary("Orthanc", "orthanc")
    root = tmp_path_factory.mktemp("orthanc")
    http, dicom = free_port(), free_port()
    config = {
        "Name": "t",
        "HttpPort": http,
        "DicomPort": dicom,
        "StorageDirectory": str(root / "db"),
        "IndexDirectory": str(root / "db"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
    }
    (root / "orthanc.json").write_text(json.dumps(config))
    log = (root / "orthanc.log").open("wb")
    process = subprocess.Popen([binary, str(root / "orthanc.json")], stdout=log, stderr=log)
    url = f"127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, _ = call(url, "GET", "/system")
                if status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Orthanc did not start: {(root / 'orthanc.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def call(host: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One request to Orthanc on loopback (http.client: no URL schemes to audit)."""
    connection = http.client.HTTPConnection(host, timeout=10)
    try:
        headers = {"Content-Type": "application/dicom"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def post(host: str, path: Path) -> dict[str, str]:
    status, body = call(host, "POST", "/instances", path.read_bytes())
    assert status == 200, body
    return json.loads(body)


def objects(ct: list[Dataset]) -> dict[str, Dataset]:
    """One SR, SEG and KOS on ``ct``, each in its own series (one stream per kind)."""
    image = ImageRef(ct[0].SOPInstanceUID)
    common: dict[str, Any] = {
        "provenance": src.provenance(),
    }
    mask = np.zeros((src.ROWS, src.COLUMNS), dtype=bool)
    mask[4:9, 4:9] = True
    return {
        "sr": build_measurement_report(
            [
                Rectangle("r", src.LESION, image, x0=1, y0=1, x1=5, y1=5),
                Length("l", src.DIAMETER, image, start=(1, 1), end=(9, 9)),
            ],
            sources=src.sources(ct),
            sop_instance_uid=derive_uid("o/sr"),
            series_instance_uid=derive_uid("o/sr-series"),
            **common,
        ),
        "seg": build_segmentation(
            [SegmentMask("m", src.LIVER, (MaskPlane(image, mask),))],
            sources=src.sources(ct),
            sop_instance_uid=derive_uid("o/seg"),
            series_instance_uid=derive_uid("o/seg-series"),
            **common,
        ),
        "kos": build_key_object_selection(
            [
                SelectedSeries(
                    ct[0].SeriesInstanceUID,
                    tuple(InstanceRef(d.SOPClassUID, d.SOPInstanceUID) for d in ct),
                )
            ],
            study=SourceImage(ct[0]),
            lead="u_lead",
            reason=SelectionReason(SelectionDecision.INCLUDE, "for annotation"),
            sop_instance_uid=derive_uid("o/kos"),
            series_instance_uid=derive_uid("o/kos-series"),
            **common,
        ),
    }


@pytest.mark.orthanc
def test_orthanc_stores_sr_seg_and_kos(orthanc, ct, tmp_path):
    for name, ds in objects(ct).items():
        path = tmp_path / f"{name}.dcm"
        ds.save_as(path, enforce_file_format=True)
        answer = post(orthanc, path)
        assert answer["Status"] == "Success", (name, answer)
        status, body = call(orthanc, "GET", f"/instances/{answer['ID']}/tags?simplify")
        assert status == 200
        tags = json.loads(body)
        assert tags["SOPInstanceUID"] == ds.SOPInstanceUID
        assert tags["StudyInstanceUID"] == ct[0].StudyInstanceUID
        # Delivery is idempotent on SOP Instance UID: the same object again is "AlreadyStored".
        assert post(orthanc, path)["Status"] == "AlreadyStored"


# dcentvfy warnings that are dicom3tools' modelling, not an inconsistency in the files.
DCENTVFY_ALLOWED = (
    # dicom3tools' module tables put Accession Number in the Series IE for the image, SR and SEG
    # IODs but in the Study IE for the KOS, then warn that one attribute has two IEs; the values
    # agree (an inconsistent value would be an "Error" line, which is not allowed).
    "Warning - Different information entities for attribute - Element=<AccessionNumber>",
)


def test_sources_and_written_objects_agree_on_patient_and_study(ct, tmp_path):
    """dcentvfy compares the patient, study and series entities across all files."""
    binary = require_binary("dcentvfy", "dicom3tools")
    paths = []
    for index, ds in enumerate(ct):
        ds.save_as(tmp_path / f"ct{index}.dcm", enforce_file_format=True)
        paths.append(str(tmp_path / f"ct{index}.dcm"))
    for name, ds in objects(ct).items():
        ds.save_as(tmp_path / f"{name}.dcm", enforce_file_format=True)
        paths.append(str(tmp_path / f"{name}.dcm"))
    result = subprocess.run([binary, *paths], capture_output=True, text=True, check=False)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert [line for line in lines if not line.startswith(DCENTVFY_ALLOWED)] == []
