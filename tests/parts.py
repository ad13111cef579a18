"""Real parts the tests need (dcmtk, Orthanc, Chromium, PostgreSQL…), found or explained.

On a developer machine a missing part skips the test with the package to install. With
``RHINO_STRICT_TESTS=1`` (set by ``.ci/run``) every skip is turned into a failure by the hook in
``tests/conftest.py``, so CI cannot pass by not running a check.
"""

from __future__ import annotations

import os
import shutil

import pytest

STRICT = os.environ.get("RHINO_STRICT_TESTS") == "1"


def require(available: bool, part: str, install: str) -> None:
    """Skip (or, under strict mode, fail) unless ``part`` is available."""
    if not available:
        pytest.skip(f"{part} is not available here; install it with: {install}")


def require_binary(name: str, debian_package: str) -> str:
    """Return the path of an executable, or skip naming the Debian package that provides it."""
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}", os.X_OK) else None
    )
    require(path is not None, name, f"apt-get install {debian_package}")
    assert path is not None
    return path
