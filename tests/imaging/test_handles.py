"""Pseudonymous handles: HMAC-SHA-256 of the UID under the site key, short and opaque."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from imaging import HandleKey, HandleKind, handle_kind

KEY = b"site-secret-for-tests-0123456789"


def _reference(key: bytes, kind: HandleKind, uid: str) -> str:
    mac = hmac.new(key, f"{kind.value}:{uid}".encode("ascii"), hashlib.sha256).digest()
    return f"{kind.value}_{base64.b32encode(mac).decode('ascii').lower()[:20]}"


@pytest.mark.parametrize("key", [KEY, b"k" * 16, b"long" * 40])
def test_handle_is_truncated_base32_hmac_sha256(key: bytes) -> None:
    handles = HandleKey(key)
    for kind in HandleKind:
        for uid in ("1.2.3", "1.2.840.113619.2.55.3.604688119.969.1268071029.320", ""):
            assert handles.handle(kind, uid) == _reference(key, kind, uid)


def test_stable_for_one_key_and_different_across_keys_and_kinds() -> None:
    uid = "1.2.826.0.1.3680043.8.498.1"
    a, b = HandleKey(KEY), HandleKey(KEY[::-1])
    assert a.handle(HandleKind.SERIES, uid) == HandleKey(KEY).handle(HandleKind.SERIES, uid)
    assert a.handle(HandleKind.SERIES, uid) != b.handle(HandleKind.SERIES, uid)
    assert a.handle(HandleKind.SERIES, uid)[3:] != a.handle(HandleKind.STUDY, uid)[3:]
    assert handle_kind(a.handle(HandleKind.INSTANCE, uid)) is HandleKind.INSTANCE
    assert uid not in a.handle(HandleKind.SERIES, uid)
    assert KEY.decode() not in repr(a)


def test_no_collisions_in_a_million_uids_and_none_shared_across_keys() -> None:
    # 10⁶ handles in ~8 s on 2 cores; a set comparison is the whole check.
    a, b = HandleKey(KEY), HandleKey(KEY[::-1])
    kind = HandleKind.INSTANCE
    uids = [f"1.2.826.0.1.3680043.8.498.{n}" for n in range(1_000_000)]
    first = {a.handle(kind, uid) for uid in uids}
    assert len(first) == len(uids)
    second = {b.handle(kind, uid) for uid in uids[:100_000]}
    assert not first & second


@pytest.mark.parametrize(
    "bad",
    ["", "se_", "se_" + "A" * 20, "xx_" + "a" * 20, "se_" + "a" * 19, "se-" + "a" * 20, "../etc"],
)
def test_handle_kind_rejects_anything_else(bad: str) -> None:
    with pytest.raises(ValueError, match="not a handle"):
        handle_kind(bad)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        HandleKey(b"short")
