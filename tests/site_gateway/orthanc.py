"""Start a throw-away Orthanc on free loopback ports (used by the tests and by bench/retrieve.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import requests

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
ORTHANC_AET = "ORTHANC"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OrthancServer:
    process: subprocess.Popen[bytes]
    workdir: Path
    http_port: int
    dicom_port: int
    aet: str = ORTHANC_AET
    modalities: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"dicomweb+http://127.0.0.1:{self.http_port}/dicom-web"

    def dimse_url(self, calling: str = "RHINO", **query: object) -> str:
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"dimse://{self.aet}@127.0.0.1:{self.dicom_port}?calling={calling}{extra}"

    def upload(self, paths: Iterable[Path]) -> int:
        count = 0
        with requests.Session() as session:
            for path in paths:
                response = session.post(
                    f"{self.http_url}/instances", data=path.read_bytes(), timeout=30
                )
                response.raise_for_status()
                count += 1
        return count

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        return (self.workdir / "orthanc.log").read_text(errors="replace")


def start_orthanc(
    binary: str, workdir: Path, *, modalities: dict[str, tuple[str, int]], timeout: float = 30.0
) -> OrthancServer:
    """Orthanc with DICOMweb, loopback only, ``modalities`` (name → (AET, port)) allowed in."""
    workdir.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    config = {
        "Name": "rhino-test",
        "StorageDirectory": str(workdir / "storage"),
        "IndexDirectory": str(workdir / "storage"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": ORTHANC_AET,
        "DicomCheckCalledAet": True,
        "DicomCheckModalityHost": True,
        "DicomAlwaysAllowEcho": False,
        "DicomAlwaysAllowStore": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpServerEnabled": True,
        "DicomServerEnabled": True,
        "UnknownSopClassAccepted": True,
        "StorageCompression": False,
        "SaveJobs": False,
        "DicomModalities": {
            name: {
                "AET": aet,
                "Host": "127.0.0.1",
                "Port": port,
                "AllowEcho": True,
                "AllowFind": True,
                "AllowGet": True,
                "AllowMove": True,
                "AllowStore": True,
            }
            for name, (aet, port) in modalities.items()
        },
        "Plugins": [DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
    }
    (workdir / "config.json").write_text(json.dumps(config, indent=2))
    log = open(workdir / "orthanc.log", "wb")  # noqa: SIM115 — handed to the child process
    process = subprocess.Popen(
        [binary, str(workdir / "config.json")], stdout=log, stderr=subprocess.STDOUT, cwd=workdir
    )
    log.close()
    server = OrthancServer(process, workdir, http_port, dicom_port, modalities=dict(modalities))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            if requests.get(f"{server.http_url}/system", timeout=1).ok:
                with socket.create_connection(("127.0.0.1", dicom_port), timeout=1):
                    return server
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"Orthanc did not answer within {timeout} s:\n{server.log()[-3000:]}")
