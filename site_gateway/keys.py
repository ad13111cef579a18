"""The gateway's keys: its Ed25519 identity, central's pinned public key, the site secret.

``enroll`` creates what is missing and never replaces an existing identity or secret: a new
gateway key would need re-registration by the custodian, and a new site secret would change
every handle the site ever issued.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from site_gateway.config import GatewayConfig
from site_gateway.grants import public_key_b64, public_key_from_b64

SECRET_BYTES = 32


def key_fingerprint(public_key: str) -> str:
    """What the custodian compares between the enroll output and central's site page: the first
    64 bits of SHA-256 of the key text, as ``xxxx:xxxx:xxxx:xxxx`` ('' for no key)."""
    text = public_key.strip()
    if not text:
        return ""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return ":".join(digest[i : i + 4] for i in range(0, 16, 4))


class EnrollmentError(Exception):
    """A key is missing or unreadable; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class SiteKeys:
    gateway: Ed25519PrivateKey
    central: Ed25519PublicKey
    secret: bytes

    @property
    def handle_key(self) -> bytes:
        return _derive(self.secret, b"rhino-handles-v1")

    @property
    def audit_key(self) -> bytes:
        return _derive(self.secret, b"rhino-site-audit-v1")


def _derive(secret: bytes, label: bytes) -> bytes:
    # Separate keys per purpose from the one secret, so one can never stand in for the other.
    return hmac.new(secret, label, hashlib.sha256).digest()


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` 0600 from the start (no window where it is world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


@dataclass(frozen=True, slots=True)
class EnrollResult:
    public_key: str  # base64 raw Ed25519, for the site custodian to register centrally
    created_key: bool
    pinned_central: bool
    created_secret: bool


def enroll(config: GatewayConfig, central_key_b64: str | None = None) -> EnrollResult:
    """Create the key pair and site secret if absent; pin central's key if one is given."""
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    created_key = not config.key_path.exists()
    if created_key:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(config.key_path, pem)
    created_secret = not config.secret_path.exists()
    if created_secret:
        _write_private(config.secret_path, secrets.token_bytes(SECRET_BYTES))
    pinned = False
    if central_key_b64 is not None:
        try:
            central = public_key_from_b64(central_key_b64)
        except ValueError as exc:
            raise EnrollmentError(
                f"--central-key is not a base64 Ed25519 public key: {exc}"
            ) from None
        tmp = config.central_key_path.with_suffix(".tmp")
        tmp.write_text(public_key_b64(central) + "\n")
        os.replace(tmp, config.central_key_path)  # re-pinning (central key rotation) is allowed
        pinned = True
    return EnrollResult(
        public_key_b64(load_gateway_key(config)), created_key, pinned, created_secret
    )


def load_gateway_key(config: GatewayConfig) -> Ed25519PrivateKey:
    try:
        mode = config.key_path.stat().st_mode & 0o777
        data = config.key_path.read_bytes()
    except FileNotFoundError:
        raise EnrollmentError(
            f"no gateway key at {config.key_path}; run: python -m site_gateway enroll --config …"
        ) from None
    if mode & 0o077:
        raise EnrollmentError(f"{config.key_path} is readable by others (mode {mode:o}); chmod 600")
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise EnrollmentError(f"{config.key_path} does not hold an Ed25519 private key")
    return key


def load_central_key(config: GatewayConfig) -> Ed25519PublicKey:
    try:
        text = config.central_key_path.read_text()
    except FileNotFoundError:
        raise EnrollmentError(
            f"central's public key is not pinned ({config.central_key_path}); run: "
            "python -m site_gateway enroll --config … --central-key B64"
        ) from None
    try:
        return public_key_from_b64(text)
    except ValueError as exc:
        raise EnrollmentError(
            f"{config.central_key_path} is not an Ed25519 public key: {exc}"
        ) from None


def load_secret(config: GatewayConfig) -> bytes:
    try:
        secret = config.secret_path.read_bytes()
    except FileNotFoundError:
        raise EnrollmentError(
            f"no site secret at {config.secret_path}; run: python -m site_gateway enroll --config …"
        ) from None
    if len(secret) != SECRET_BYTES:
        raise EnrollmentError(f"{config.secret_path} must hold {SECRET_BYTES} bytes")
    return secret


def load_keys(config: GatewayConfig) -> SiteKeys:
    return SiteKeys(load_gateway_key(config), load_central_key(config), load_secret(config))
