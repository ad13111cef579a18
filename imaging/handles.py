"""Pseudonymous handles: opaque, stable names for DICOM UIDs that only the site can map back.

A handle is a keyed HMAC-SHA-256 of the UID (the key is the site secret), so it is stable for one
key, unlinkable across keys, and reveals nothing of the UID. The kind is part of the MAC input and
the visible prefix, so a series handle can never be confused with an instance handle.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac

# 20 base32 characters = 100 bits: the birthday bound for a collision is ~2**50 UIDs per site.
HANDLE_BODY_LENGTH = 20
MIN_KEY_BYTES = 16
_BODY_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz234567")


class HandleKind(enum.StrEnum):
    STUDY = "st"
    SERIES = "se"
    INSTANCE = "in"
    FRAME = "fr"


class HandleKey:
    """A site secret that derives handles. Keep it at the site; never send it anywhere."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a handle key needs at least {MIN_KEY_BYTES} bytes, got {len(key)}")
        self._key = bytes(key)

    def handle(self, kind: HandleKind, uid: str) -> str:
        """The handle of ``uid`` as ``<kind>_<body>``, e.g. ``se_k3v…``."""
        mac = hmac.new(self._key, f"{kind.value}:{uid}".encode("ascii"), hashlib.sha256).digest()
        body = base64.b32encode(mac).decode("ascii").lower()[:HANDLE_BODY_LENGTH]
        return f"{kind.value}_{body}"

    def __repr__(self) -> str:  # never print the secret
        return "HandleKey(<secret>)"


def handle_kind(handle: str) -> HandleKind:
    """The kind of a well-formed handle; ``ValueError`` for anything else (e.g. a hostile id)."""
    prefix, sep, body = handle.partition("_")
    if not sep or len(body) != HANDLE_BODY_LENGTH or not set(body) <= _BODY_ALPHABET:
        raise ValueError("not a handle")
    try:
        return HandleKind(prefix)
    except ValueError:
        raise ValueError("not a handle") from None
