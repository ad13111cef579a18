"""Signed Secure Access grants and the challenge–response that authenticates gateways.

Central signs a grant (Ed25519) for one session and one attach; the gateway verifies it against
central's public key, pinned at enrollment, before serving anything: signature, expiry, site,
single use (nonce), then scope (series, actions) on every request. Both ends import this module, so
the byte layout that is signed is defined once.

Token: ``rg1.<base64url(JSON payload)>.<base64url(signature over the payload bytes)>``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from imaging.handles import HandleKind, handle_kind
from site_gateway.protocol import Action, ErrorCode, SiteAct

TOKEN_PREFIX: Final = "rg1"  # noqa: S105  (a format tag, not a secret)
MAX_TOKEN_BYTES: Final = 64 * 1024
# A grant is presented once, right after central signs it; clocks may differ a little.
CLOCK_SKEW_SECONDS: Final = 30
MAX_GRANT_LIFETIME_SECONDS: Final = 12 * 3600
# A site-request grant covers one request over the control link: minutes, not hours.
SITE_REQUEST_KIND: Final = "site_request"
MAX_SITE_REQUEST_LIFETIME_SECONDS: Final = 15 * 60


class GrantError(Exception):
    """``code`` is the wire code; bad signature and bad format share one, so no check leaks."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Grant:
    session: str  # the Secure Access session id (UUID)
    user: str  # the user's pseudonym, never a name
    role: str  # annotator / reviewer / lead: recorded as the observer role in written objects
    task: int
    project: str  # project slug
    site: str  # site slug
    series: tuple[str, ...]  # series handles in scope
    actions: frozenset[Action]
    issued_at: int  # unix seconds
    expires_at: int
    nonce: str
    # The task's label schema (version and coded entries), so the site validates labels against it.
    schema: Mapping[str, Any] = field(default_factory=dict)

    def allows(self, action: Action) -> bool:
        return action in self.actions

    def covers_series(self, handle: str) -> bool:
        return handle in self.series

    def to_payload(self) -> dict[str, Any]:
        return {
            "v": 1,
            "sid": self.session,
            "sub": self.user,
            "role": self.role,
            "task": self.task,
            "project": self.project,
            "site": self.site,
            "series": list(self.series),
            "act": sorted(self.actions),
            "iat": self.issued_at,
            "exp": self.expires_at,
            "nonce": self.nonce,
            "schema": dict(self.schema),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Grant:
        try:
            if payload["v"] != 1:
                raise ValueError("version")
            series = tuple(payload["series"])
            for handle in series:
                if handle_kind(handle) is not HandleKind.SERIES:
                    raise ValueError("series")
            grant = cls(
                session=_str(payload["sid"]),
                user=_str(payload["sub"]),
                role=_str(payload["role"]),
                task=_int(payload["task"]),
                project=_str(payload["project"]),
                site=_str(payload["site"]),
                series=series,
                actions=frozenset(Action(a) for a in payload["act"]),
                issued_at=_int(payload["iat"]),
                expires_at=_int(payload["exp"]),
                nonce=_str(payload["nonce"]),
                schema=dict(payload.get("schema") or {}),
            )
        except (KeyError, TypeError, ValueError):
            raise GrantError(ErrorCode.GRANT_INVALID, "the grant's fields are malformed") from None
        if len(grant.nonce) < 16:
            raise GrantError(ErrorCode.GRANT_INVALID, "the grant's nonce is too short")
        return grant


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("string")
    return value


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("int")
    return value


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def sign_grant(grant: Grant, key: Ed25519PrivateKey) -> str:
    payload = json.dumps(grant.to_payload(), separators=(",", ":"), sort_keys=True).encode()
    return f"{TOKEN_PREFIX}.{_b64e(payload)}.{_b64e(key.sign(payload))}"


class ReplayGuard:
    """Remembers the nonces of accepted grants until they expire: a grant is good for one attach.

    In memory and bounded; after a gateway restart, central re-attaches live sessions with freshly
    signed grants, so nothing needs to survive.
    """

    def __init__(self, *, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def check_and_remember(self, nonce: str, expires_at: int, now: float) -> None:
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - CLOCK_SKEW_SECONDS:
                self._seen.popitem(last=False)
            if nonce in self._seen:
                raise GrantError(ErrorCode.GRANT_REPLAYED, "this grant was already used")
            if len(self._seen) >= self._capacity:
                self._seen.popitem(last=False)
            self._seen[nonce] = expires_at
            # Expiry order and insertion order agree closely enough (grants are short-lived).


def _signed_payload(token: object, central_key: Ed25519PublicKey) -> dict[str, Any]:
    """The JSON payload of a token signed by central; ``GrantError`` for anything else."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise GrantError(ErrorCode.GRANT_INVALID, "not a grant")
    prefix, _, rest = token.partition(".")
    body, _, signature = rest.partition(".")
    if prefix != TOKEN_PREFIX or not body or not signature:
        raise GrantError(ErrorCode.GRANT_INVALID, "not a grant")
    try:
        payload_bytes, signature_bytes = _b64d(body), _b64d(signature)
    except (binascii.Error, ValueError):
        raise GrantError(ErrorCode.GRANT_INVALID, "not a grant") from None
    try:
        central_key.verify(signature_bytes, payload_bytes)
    except InvalidSignature:
        raise GrantError(
            ErrorCode.GRANT_INVALID, "the grant's signature is not central's"
        ) from None
    try:
        payload = json.loads(payload_bytes)
    except ValueError:
        raise GrantError(ErrorCode.GRANT_INVALID, "the grant's payload is not JSON") from None
    if not isinstance(payload, dict):
        raise GrantError(ErrorCode.GRANT_INVALID, "the grant's payload is not an object")
    return payload


def _check_window(issued_at: int, expires_at: int, now: float, max_lifetime: int) -> None:
    if expires_at <= now:
        raise GrantError(ErrorCode.GRANT_EXPIRED, "the grant has expired")
    if issued_at > now + CLOCK_SKEW_SECONDS:
        raise GrantError(ErrorCode.GRANT_INVALID, "the grant is not valid yet")
    if expires_at - issued_at > max_lifetime:
        raise GrantError(ErrorCode.GRANT_INVALID, "the grant's lifetime is too long")


def verify_grant(
    token: str,
    *,
    central_key: Ed25519PublicKey,
    site: str,
    replay: ReplayGuard | None,
    now: float | None = None,
) -> Grant:
    """Check signature, then validity window, site and single use; return the grant."""
    now = time.time() if now is None else now
    payload = _signed_payload(token, central_key)
    if "kind" in payload:  # a site-request grant (or a future kind) never opens a session
        raise GrantError(ErrorCode.GRANT_INVALID, "not a session grant")
    grant = Grant.from_payload(payload)
    _check_window(grant.issued_at, grant.expires_at, now, MAX_GRANT_LIFETIME_SECONDS)
    if grant.site != site:
        raise GrantError(ErrorCode.GRANT_WRONG_SITE, "the grant is for another site")
    if replay is not None:
        replay.check_and_remember(grant.nonce, grant.expires_at, now)
    return grant


# --- site-request grants (a lead's requests over the control link: browse, select, agree) ---


@dataclass(frozen=True, slots=True)
class SiteRequestGrant:
    """Central's signed permission for one request to one site, outside any session.

    ``request`` binds the grant to the request id it travels with, so a grant lifted from one
    request cannot authorise another; ``nonce`` makes it single use.
    """

    user: str  # the lead's pseudonym
    role: str
    project: str  # project slug: the site checks it serves it
    site: str
    acts: frozenset[SiteAct]
    request: str
    issued_at: int
    expires_at: int
    nonce: str

    def allows(self, act: SiteAct) -> bool:
        return act in self.acts

    def to_payload(self) -> dict[str, Any]:
        return {
            "v": 1,
            "kind": SITE_REQUEST_KIND,
            "sub": self.user,
            "role": self.role,
            "project": self.project,
            "site": self.site,
            "act": sorted(self.acts),
            "req": self.request,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "nonce": self.nonce,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> SiteRequestGrant:
        try:
            if payload["v"] != 1 or payload["kind"] != SITE_REQUEST_KIND:
                raise ValueError("kind")
            grant = cls(
                user=_str(payload["sub"]),
                role=_str(payload["role"]),
                project=_str(payload["project"]),
                site=_str(payload["site"]),
                acts=frozenset(SiteAct(a) for a in payload["act"]),
                request=_str(payload["req"]),
                issued_at=_int(payload["iat"]),
                expires_at=_int(payload["exp"]),
                nonce=_str(payload["nonce"]),
            )
        except (KeyError, TypeError, ValueError):
            raise GrantError(ErrorCode.GRANT_INVALID, "the grant's fields are malformed") from None
        if len(grant.nonce) < 16:
            raise GrantError(ErrorCode.GRANT_INVALID, "the grant's nonce is too short")
        return grant


def sign_site_request(grant: SiteRequestGrant, key: Ed25519PrivateKey) -> str:
    payload = json.dumps(grant.to_payload(), separators=(",", ":"), sort_keys=True).encode()
    return f"{TOKEN_PREFIX}.{_b64e(payload)}.{_b64e(key.sign(payload))}"


def verify_site_request(
    token: object,
    *,
    central_key: Ed25519PublicKey,
    site: str,
    request: str,
    replay: ReplayGuard | None,
    now: float | None = None,
) -> SiteRequestGrant:
    """Signature, kind, validity window, site, the request id it is bound to, single use."""
    now = time.time() if now is None else now
    grant = SiteRequestGrant.from_payload(_signed_payload(token, central_key))
    _check_window(grant.issued_at, grant.expires_at, now, MAX_SITE_REQUEST_LIFETIME_SECONDS)
    if grant.site != site:
        raise GrantError(ErrorCode.GRANT_WRONG_SITE, "the grant is for another site")
    if grant.request != request:
        raise GrantError(ErrorCode.GRANT_INVALID, "the grant is for another request")
    if replay is not None:
        replay.check_and_remember(grant.nonce, grant.expires_at, now)
    return grant


# --- gateway authentication (challenge–response, both directions) ---

_AUTH_CONTEXT: Final = b"rhino-gateway-auth-v1"
_CENTRAL_CONTEXT: Final = b"rhino-central-challenge-v1"


def gateway_auth_message(*, nonce: str, site: str, session: str | None = None) -> bytes:
    """What a gateway signs to prove itself: bound to the challenge, its site and the link."""
    return b"\n".join((_AUTH_CONTEXT, nonce.encode(), site.encode(), (session or "-").encode()))


def central_challenge_message(nonce: str) -> bytes:
    """What central signs in its challenge, so the gateway knows it talks to central."""
    return b"\n".join((_CENTRAL_CONTEXT, nonce.encode()))


def sign_b64(key: Ed25519PrivateKey, message: bytes) -> str:
    return _b64e(key.sign(message))


def verify_b64(key: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    try:
        key.verify(_b64d(signature), message)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """A raw 32-byte Ed25519 public key in standard or URL-safe base64."""
    raw = base64.b64decode(
        text.strip().replace("-", "+").replace("_", "/") + "=" * (-len(text.strip()) % 4)
    )
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_b64(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def actions_for(names: Iterable[str]) -> frozenset[Action]:
    return frozenset(Action(name) for name in names)
