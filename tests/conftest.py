"""Suite-wide fixtures and the strict-mode rule: under RHINO_STRICT_TESTS=1 a skip is a failure."""

from __future__ import annotations

from collections.abc import Generator

import pytest
from pydicom import config as pydicom_config

from tests.parts import STRICT

# The running product (central + demo gateways) for end-to-end tests: the `product` fixture.
pytest_plugins = ["tests.product"]

# Every DICOM object the product writes must be valid: make pydicom refuse to write anything else.
pydicom_config.settings.writing_validation_mode = pydicom_config.RAISE


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under RHINO_STRICT_TESTS=1, which makes a missing part a failure: {reason}"
        )
    return report


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Generator[None, None, None]:
    """Each test gets its own channel layer. channels_redis keeps asyncio locks and pools bound
    to the event loop that first used them; pytest-asyncio gives every test a new loop, so a layer
    shared across tests fails with "bound to a different event loop" when a lock was held at the
    end of the previous one."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
