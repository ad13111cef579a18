"""The folder PACS indexes incrementally, tolerates junk, and writes only where it decides."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from site_gateway.demo_data import DemoSite, write_demo_site
from site_gateway.pacs import PacsError, PacsErrorCode, RetrievedInstance, open_pacs
from site_gateway.pacs.folder import FolderPacs


def _tree(root: Path) -> set[Path]:
    return set(root.rglob("*")) if root != Path("/tmp") else set(root.glob("escape*"))


@pytest.fixture
def site(tmp_path: Path) -> DemoSite:
    return write_demo_site(tmp_path / "pacs", slices=4, seed=4, rows=64, samples=False)


def test_junk_files_are_tolerated_and_not_reread(site: DemoSite) -> None:
    (site.folder / "notes.txt").write_text("not DICOM")
    (site.folder / "empty.dcm").write_bytes(b"")
    (site.folder / "garbage.dcm").write_bytes(os.urandom(4096))
    (site.folder / "truncated.dcm").write_bytes((site.folder / "ct/ct-0001.dcm").read_bytes()[:200])
    pacs = FolderPacs(site.folder)
    assert pacs.rescan() == 8
    assert pacs.rescan() == 0  # unchanged files, junk included, are not read again


async def test_new_and_changed_files_are_picked_up(site: DemoSite, tmp_path: Path) -> None:
    pacs = FolderPacs(site.folder, rescan_interval=0)
    assert len(await pacs.find_instances(site.study_uid, site.series_uid)) == 4
    other = write_demo_site(tmp_path / "other", slices=2, seed=8, rows=64, samples=False)
    shutil.copytree(other.folder, site.folder / "incoming")
    assert {s.study_uid for s in await pacs.find_studies()} == {site.study_uid, other.study_uid}
    shutil.rmtree(site.folder / "incoming")
    assert {s.study_uid for s in await pacs.find_studies()} == {site.study_uid}


async def test_store_writes_a_file_named_by_the_gateway(site: DemoSite) -> None:
    pacs = open_pacs(f"folder:{site.folder}", rescan_interval=0)
    ds = dcmread(site.folder / "ct/ct-0001.dcm")
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    await pacs.store(ds)
    (stored,) = list((site.folder / "stored").rglob("*.dcm"))
    assert ds.SOPInstanceUID not in str(stored)
    assert dcmread(stored).SOPInstanceUID == ds.SOPInstanceUID
    items = [i async for i in pacs.retrieve_series(site.study_uid, ds.SeriesInstanceUID)]
    assert isinstance(items[0], RetrievedInstance)
    assert dcmread(io.BytesIO(items[0].data)).SOPInstanceUID == ds.SOPInstanceUID


@pytest.mark.filterwarnings("ignore:.*VR UI:UserWarning")  # hostile on purpose
@pytest.mark.parametrize(
    "keyword", ["SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "SOPClassUID"]
)
@pytest.mark.parametrize("hostile", ["../../../escape", "/tmp/escape", "..", "1.2/../../x"])
async def test_hostile_uids_never_write_outside_the_folder(
    site: DemoSite, tmp_path: Path, keyword: str, hostile: str
) -> None:
    pacs = open_pacs(f"folder:{site.folder}")
    ds = dcmread(site.folder / "ct/ct-0001.dcm")
    setattr(ds, keyword, hostile)
    before = _tree(tmp_path)
    with pytest.raises(PacsError) as caught:
        await pacs.store(ds)
    assert caught.value.code is PacsErrorCode.MALFORMED_OBJECT
    assert _tree(tmp_path) == before
    assert not _tree(Path("/tmp")) & {Path("/tmp/escape")}


async def test_a_symlinked_stored_folder_is_refused(site: DemoSite, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (site.folder / "stored").symlink_to(outside)
    pacs = open_pacs(f"folder:{site.folder}")
    ds = dcmread(site.folder / "ct/ct-0001.dcm")
    ds.SOPInstanceUID = generate_uid()
    with pytest.raises(PacsError):
        await pacs.store(ds)
    assert list(outside.rglob("*.dcm")) == []


def test_a_missing_folder_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(PacsError) as caught:
        open_pacs(f"folder:{tmp_path / 'nope'}")
    assert caught.value.code is PacsErrorCode.UNREACHABLE
