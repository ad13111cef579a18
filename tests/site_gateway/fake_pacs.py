"""Real pynetdicom SCPs and sockets that misbehave on purpose: hang, fail, send broken objects."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    Verification,
)

from tests.site_gateway.orthanc import free_port

FAKE_AET = "FAKEPACS"


class FakePacs:
    """A pynetdicom SCP; ``find``/``get`` say what C-FIND and C-GET do: ``hang``, a status, or
    for C-GET a list of datasets to send."""

    def __init__(
        self,
        *,
        find: str | int = 0x0000,
        get: str | int | list[Dataset] = 0xC000,
        idle_timeout: float | None = None,
    ):
        self.find, self.get = find, get
        self.release = threading.Event()
        self.port = free_port()
        ae = AE(ae_title=FAKE_AET)
        if idle_timeout is not None:
            ae.network_timeout = idle_timeout  # drops idle associations, like many PACSs do
        ae.add_supported_context(Verification)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
        ae.add_supported_context(
            CTImageStorage,
            [ExplicitVRLittleEndian, ImplicitVRLittleEndian],
            scu_role=True,
            scp_role=True,
        )
        self.server = ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            evt_handlers=[(evt.EVT_C_FIND, self._on_find), (evt.EVT_C_GET, self._on_get)],
        )

    @property
    def url(self) -> str:
        return f"dimse://{FAKE_AET}@127.0.0.1:{self.port}?calling=RHINO&timeout=1&acse_timeout=2"

    def _on_find(self, event: Any) -> Iterator[tuple[int, Dataset | None]]:
        if self.find == "hang":
            self.release.wait(30)
            return
        assert isinstance(self.find, int)
        yield self.find, None

    def _on_get(self, event: Any) -> Iterator[Any]:
        if self.get == "hang":
            yield 1
            self.release.wait(30)
            return
        if isinstance(self.get, int):
            yield 1  # with 0 sub-operations pynetdicom answers success by itself
            yield self.get, None
            return
        yield len(self.get)
        for ds in self.get:
            yield 0xFF00, ds

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()


class SilentServer:
    """Accepts TCP connections and never says a word (a PACS hung before the A-ASSOCIATE-AC)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.clients: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(client)

    def stop(self) -> None:
        self.sock.close()
        for client in self.clients:
            client.close()


class MultipartServer:
    """A DICOMweb origin server that answers every WADO-RS request with the given parts."""

    BOUNDARY = "rhino-test-boundary"

    def __init__(self, parts: list[bytes]) -> None:
        body = b"".join(
            b"--" + self.BOUNDARY.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n"
            + part + b"\r\n"
            for part in parts
        ) + b"--" + self.BOUNDARY.encode() + b"--\r\n"  # fmt: skip
        content_type = f'multipart/related; type="application/dicom"; boundary={self.BOUNDARY}'

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"dicomweb+http://127.0.0.1:{self.port}/dicom-web"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
