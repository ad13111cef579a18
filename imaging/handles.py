"""Pseudonymous handles: opaque, stable names for DICOM UIDs that only the site can map back.

A handle is a keyed HMAC-SHA-256 of the UID (the key is the site secret), so it is stable for one
key, unlinkable across keys, and reveals nothing of the UID. The kind is part of the MAC input and
the visible prefix, so a series handle can never be confused with an instance handle.
"""

from __future__ import annotations

import enum
import hashlib

# 20 base32 characters = 100 bits: the birthday bound for a collision is ~2**50 UIDs per site.
HANDLE_BODY_LENGTH = 20
MIN_KEY_BYTES = 16
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 base32, lower case
_BODY_ALPHABET = frozenset(_ALPHABET)
_PAIRS = tuple(_ALPHABET[v >> 5] + _ALPHABET[v & 31] for v in range(1024))


def _base32_body(digest: bytes) -> str:
    """The first 20 base32 characters (100 bits) of ``digest``; base64.b32encode is 5× slower."""
    bits = int.from_bytes(digest[:13], "big") >> 4
    return "".join([_PAIRS[(bits >> shift) & 1023] for shift in range(90, -1, -10)])


class HandleKind(enum.StrEnum):
    STUDY = "st"
    SERIES = "se"
    INSTANCE = "in"
    FRAME = "fr"


class HandleKey:
    """A site secret that derives handles. Keep it at the site; never send it anywhere."""

    __slots__ = ("_inner", "_key", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a handle key needs at least {MIN_KEY_BYTES} bytes, got {len(key)}")
        self._key = bytes(key)
        # HMAC (RFC 2104) with the key pads hashed once; per handle only the C-level hash states
        # are copied. Same output as hmac.new(key, msg, sha256) (checked in the tests).
        block = hashlib.sha256().block_size
        padded = (hashlib.sha256(self._key).digest() if len(key) > block else self._key).ljust(
            block, b"\0"
        )
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def mac(self, message: bytes) -> bytes:
        """HMAC-SHA-256 of ``message`` under this key."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def handle(self, kind: HandleKind, uid: str) -> str:
        """The handle of ``uid`` as ``<kind>_<body>``, e.g. ``se_k3v…``."""
        prefix = kind.value
        digest = self.mac(f"{prefix}:{uid}".encode("ascii"))
        return f"{prefix}_{_base32_body(digest)}"

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
