from __future__ import annotations

import pytest

from imaging.dicom_out import WritebackError, WritebackErrorCode, derive_uid, tracking_uid_for
from imaging.dicom_out.uids import is_valid_uid


def test_derived_uid_is_stable_valid_and_distinct_per_key():
    first = derive_uid("site-a/T-17/sr/1")
    assert first == derive_uid("site-a/T-17/sr/1")
    assert first != derive_uid("site-a/T-17/sr/2")
    assert first.startswith("2.25.") and is_valid_uid(first)


def test_tracking_uid_keeps_dicom_uids_and_derives_the_rest():
    assert tracking_uid_for("1.2.3.4") == "1.2.3.4"
    derived = tracking_uid_for("6f1c2d4e-client-uid")
    assert is_valid_uid(derived) and derived == tracking_uid_for("6f1c2d4e-client-uid")


@pytest.mark.parametrize("bad", ["", "1.02.3", "1..2", "a.b", "1." + "2" * 70])
def test_invalid_uids_are_rejected(bad):
    assert not is_valid_uid(bad)


def test_empty_key_is_refused():
    with pytest.raises(WritebackError) as caught:
        derive_uid("")
    assert caught.value.code is WritebackErrorCode.BAD_KEY
