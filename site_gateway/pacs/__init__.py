"""PACS access behind one interface, chosen by a URL (see docs/pacs.md).

- ``folder:PATH`` — a local directory of DICOM files indexed into SQLite (the embedded default)
- ``dimse://CALLED_AE@host:port?calling=AE&retrieve=get|move&move_port=N&timeout=S``
- ``dicomweb+http(s)://host:port/path`` — QIDO-RS / WADO-RS / STOW-RS
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from site_gateway.pacs.base import (
    InstanceRecord,
    Pacs,
    RetrievalFailure,
    RetrievalItem,
    RetrievedInstance,
    SeriesRecord,
    StudyQuery,
    StudyRecord,
    check_instance,
)
from site_gateway.pacs.dimse_assoc import DimseTimeouts
from site_gateway.pacs.errors import PacsError, PacsErrorCode, StatusClass, classify_status

__all__ = [
    "DimseTimeouts",
    "InstanceRecord",
    "Pacs",
    "PacsError",
    "PacsErrorCode",
    "RetrievalFailure",
    "RetrievalItem",
    "RetrievedInstance",
    "SeriesRecord",
    "StatusClass",
    "StudyQuery",
    "StudyRecord",
    "check_instance",
    "classify_status",
    "open_pacs",
]

# PS3.5 6.2 (AE VR): up to 16 characters, no backslash or control characters, not all spaces.
_AE_RE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")
_DIMSE_QUERY = {
    "calling": "calling_aet",
    "retrieve": "retrieve",
    "move_aet": "move_aet",
    "move_port": "move_port",
    "move_bind": "move_bind",
    "pool": "pool_size",
}
_DIMSE_TIMEOUTS = {"connect_timeout": "connect", "acse_timeout": "acse", "timeout": "dimse"}


def _ae_title(value: str, what: str) -> str:
    if not _AE_RE.match(value) or not value.strip():
        raise PacsError(PacsErrorCode.BAD_URL, f"{what} {value!r} is not a valid AE title")
    return value


def _open_dimse(url: str, options: dict[str, Any]) -> Pacs:
    from site_gateway.pacs.dimse import DimsePacs

    parts = urlsplit(url)
    if not parts.username or not parts.hostname:
        raise PacsError(PacsErrorCode.BAD_URL, "expected dimse://CALLED_AE@host:port")
    try:
        port = parts.port or 104  # PS3.15 / IANA "dicom" port when none is given
    except ValueError as exc:
        raise PacsError(PacsErrorCode.BAD_URL, f"bad port in {url!r}") from exc
    kwargs: dict[str, Any] = {}
    timeouts: dict[str, float] = {}
    for key, values in parse_qs(parts.query, strict_parsing=False).items():
        value = values[-1]
        try:
            if key in _DIMSE_TIMEOUTS:
                timeouts[_DIMSE_TIMEOUTS[key]] = float(value)
            elif key in ("move_port", "pool"):
                kwargs[_DIMSE_QUERY[key]] = int(value)
            elif key in _DIMSE_QUERY:
                kwargs[_DIMSE_QUERY[key]] = value
            else:
                raise PacsError(PacsErrorCode.BAD_URL, f"unknown dimse:// option {key!r}")
        except ValueError as exc:
            raise PacsError(PacsErrorCode.BAD_URL, f"bad value for {key!r}") from exc
    if kwargs.get("retrieve", "get") not in ("get", "move"):
        raise PacsError(PacsErrorCode.BAD_URL, "retrieve must be get or move")
    kwargs["calling_aet"] = _ae_title(kwargs.get("calling_aet", "RHINO"), "calling AE")
    if "timeouts" not in options and timeouts:
        kwargs["timeouts"] = DimseTimeouts(**timeouts)
    kwargs.update(options)
    return DimsePacs(
        host=parts.hostname,
        port=port,
        called_aet=_ae_title(unquote(parts.username), "called AE"),
        **kwargs,
    )


def open_pacs(url: str, **options: Any) -> Pacs:
    """The adapter for ``url``; keyword options override what the URL says."""
    if url.startswith("folder:"):
        from site_gateway.pacs.folder import FolderPacs

        return FolderPacs(url.removeprefix("folder:"), **options)
    if url.startswith("dimse://"):
        return _open_dimse(url, options)
    if url.startswith(("dicomweb+http://", "dicomweb+https://")):
        from site_gateway.pacs.dicomweb import DicomWebPacs

        return DicomWebPacs(url.removeprefix("dicomweb+"), **options)
    raise PacsError(
        PacsErrorCode.BAD_URL,
        "a PACS URL is folder:PATH, dimse://CALLED_AE@host:port or dicomweb+http(s)://host/path",
    )
