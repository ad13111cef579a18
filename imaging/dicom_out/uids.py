"""Deterministic UIDs, so that delivery can be idempotent on SOP Instance UID.

PS3.5 B.2: a UID under the ``2.25`` root is the decimal form of a UUID (ITU-T X.667). A name-based
(version 5) UUID of a stable key therefore gives the same UID on every retry and every gateway
restart, without a registered organisation root.
"""

from __future__ import annotations

import re
import uuid

from imaging.dicom_out.errors import WritebackError, WritebackErrorCode

# Fixed namespace of this product's derived UIDs: uuid5(NAMESPACE_URL, "urn:rhino-secure-access:uid").
RHINO_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:rhino-secure-access:uid")

# PS3.5 9.1: components of digits, no leading zero except "0" itself, at most 64 characters.
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")


def is_valid_uid(value: str) -> bool:
    """True when ``value`` is a syntactically valid DICOM UID (PS3.5 9.1)."""
    return len(value) <= 64 and _UID.match(value) is not None


def check_uid(value: str, what: str) -> str:
    """Return ``value`` or raise ``WritebackError(BAD_UID)`` naming ``what``."""
    if not isinstance(value, str) or not is_valid_uid(value):
        raise WritebackError(
            WritebackErrorCode.BAD_UID,
            f"{what} {value!r} is not a DICOM UID (digits and dots, no leading zeros, ≤ 64 chars)",
        )
    return value


def derive_uid(key: str, namespace: uuid.UUID = RHINO_UID_NAMESPACE) -> str:
    """``2.25.<uuid5(namespace, key) as integer>``: the same key always gives the same UID.

    Use a key that names exactly one object, e.g. ``f"{site}/{task}/sr/{revision}"`` for a SOP
    Instance UID or ``f"{site}/{task}/sr"`` for the series of that (task, kind) stream.
    """
    if not key:
        raise WritebackError(WritebackErrorCode.BAD_KEY, "a UID key must not be empty")
    return f"2.25.{uuid.uuid5(namespace, key).int}"


def tracking_uid_for(client_uid: str) -> str:
    """The Tracking UID (DCM 112040) of an annotation: its client uid if that is already a DICOM
    UID, else a UID derived from it (so the same annotation keeps its Tracking UID across edits)."""
    if is_valid_uid(client_uid):
        return client_uid
    return derive_uid(f"tracking/{client_uid}")
