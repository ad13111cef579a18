"""Fixtures of the write-back tests: source images built in code, and a dciodvfy check."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from tests.imaging.dicom_out import sources as src
from tests.parts import require_binary

# dciodvfy warnings that are not about what we write, each with the reason (keep this list short).
DCIODVFY_ALLOWED_WARNINGS = (
    # CT_small.dcm (shipped by pydicom) has Patient's Weight 0; SR/SEG copy the patient module
    # from their source as PS3.3 C.7.1.1 requires, so the value is the source's, not ours.
    "Warning - </PatientWeight(0010,1030)[1]> - Value is zero",
)


@pytest.fixture(scope="session")
def ct() -> list[Dataset]:
    return src.ct_series(4)


@pytest.fixture(scope="session")
def enhanced() -> Dataset:
    return src.enhanced_ct(3)


@pytest.fixture(scope="session")
def small() -> Dataset:
    return src.ct_small()


def save_and_read(ds: Dataset, path: Path) -> Dataset:
    ds.save_as(path, enforce_file_format=True)
    return pydicom.dcmread(path)


def dciodvfy(path: Path) -> list[str]:
    """Run dciodvfy; fail on any error; return the warnings that are not allow-listed."""
    binary = require_binary("dciodvfy", "dicom3tools")
    result = subprocess.run(
        [binary, "-new", str(path)], capture_output=True, text=True, check=False
    )
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    assert not errors, "\n".join(errors)
    return [
        line
        for line in lines
        if line.startswith("Warning") and not line.startswith(DCIODVFY_ALLOWED_WARNINGS)
    ]
