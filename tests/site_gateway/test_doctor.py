"""``python -m site_gateway doctor`` says clearly what works and exits non-zero when not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from site_gateway.__main__ import main
from tests.site_gateway.conftest import SCU_AET, DemoData
from tests.site_gateway.orthanc import OrthancServer, free_port


def test_doctor_passes_on_a_folder_pacs(demo: DemoData, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--pacs", f"folder:{demo.site.folder}"]) == 0
    out = capsys.readouterr().out
    assert "[ok  ] PACS echo" in out
    assert "[ok  ] PACS query" in out
    assert "all checks passed" in out
    assert demo.site.patient_id not in out  # the report may end up in a ticket


@pytest.mark.parametrize("kind", ["dimse", "dicomweb"])
def test_doctor_passes_on_orthanc(
    orthanc: OrthancServer, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = orthanc.dimse_url(SCU_AET) if kind == "dimse" else orthanc.dicomweb_url
    assert main(["doctor", "--pacs", url]) == 0
    assert "all checks passed" in capsys.readouterr().out


def test_doctor_fails_with_a_hint_when_nobody_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--pacs", f"dimse://PACS@127.0.0.1:{free_port()}"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] PACS echo" in out
    assert "hint:" in out


def test_doctor_fails_on_a_wrong_called_ae(
    orthanc: OrthancServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--pacs", f"dimse://WRONG@127.0.0.1:{orthanc.dicom_port}"]) == 1
    assert "rejected" in capsys.readouterr().out


def test_doctor_refuses_a_bad_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--pacs", "smb://pacs"]) == 1
    assert "[FAIL] PACS URL" in capsys.readouterr().out


def test_the_module_runs_as_a_program() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "site_gateway", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "doctor" in result.stdout
    assert "demo-data" in result.stdout
