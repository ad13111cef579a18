"""Central's Ed25519 key, which signs Secure Access grants that site gateways verify."""

from __future__ import annotations

import base64
import os
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings


def signing_key_create(path: Path) -> Ed25519PrivateKey:
    """Write a new key (PKCS#8 PEM, mode 0600); refuses to overwrite an existing one."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


@cache
def signing_key() -> Ed25519PrivateKey:
    """The configured key; in DEBUG (the demo) it is created on first use."""
    path = Path(settings.RHINO_SIGNING_KEY_FILE)
    if not path.exists() and settings.DEBUG:
        try:
            return signing_key_create(path)
        except FileExistsError:
            pass  # another process created it meanwhile
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"{path} does not hold an Ed25519 private key")
    return key


def public_key_b64(key: Ed25519PrivateKey | None = None) -> str:
    raw = (
        (key or signing_key())
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode("ascii")
