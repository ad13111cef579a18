"""The lead's selections become Key Object Selection documents at the sites, through the real path:
REST API → central → the site's control link → its gateway → the site's folder PACS (the running
demo product). Each KOS passes dciodvfy, lists exactly the selected series' instances (none of an
unselected series) and carries the coded reason; central only learns ``kos_state``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

from tests.browser.lead_product import LeadWorld, lead_world
from tests.product import Product
from tests.site_gateway.labels.helpers import dciodvfy_errors

KOS_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def world(demo_product: Product) -> Iterator[LeadWorld]:
    built = lead_world(demo_product)
    yield built
    built.close()


def _series(world: LeadWorld, site: int) -> list[tuple[str, dict[str, Any]]]:
    """(study handle, series) of everything the site shows the lead."""
    reply = world.users["lead"].get(f"/api/projects/{world.project}/sites/{site}/series/")
    assert reply["status"] == "ok", reply
    return [(st["study"], se) for st in reply["studies"] for se in st["series"]]


def _source_instances(folder: Path) -> dict[str, tuple[str, set[str]]]:
    """Series UID → (study UID, SOP instance UIDs) of the site's source images (its own world)."""
    found: dict[str, tuple[str, set[str]]] = {}
    for path in folder.rglob("*.dcm"):
        if "stored" in path.relative_to(folder).parts:
            continue  # objects written back, not source images
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        entry = found.setdefault(str(ds.SeriesInstanceUID), (str(ds.StudyInstanceUID), set()))
        entry[1].add(str(ds.SOPInstanceUID))
    return found


def _project_kos(folder: Path, slug: str) -> list[Path]:
    """The KOS documents of this project in the site's PACS (the product is shared by tests)."""
    out = []
    for path in sorted((folder / "stored").rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if ds.Modality == "KO" and ds.get("SeriesDescription", "") == f"Rhino selection {slug}":
            out.append(path)
    return out


def _listed(ds: pydicom.Dataset) -> dict[str, set[str]]:
    listed: dict[str, set[str]] = {}
    for study in ds.CurrentRequestedProcedureEvidenceSequence:
        for series in study.ReferencedSeriesSequence:
            listed.setdefault(str(series.SeriesInstanceUID), set()).update(
                str(item.ReferencedSOPInstanceUID) for item in series.ReferencedSOPSequence
            )
    return listed


def _description(ds: pydicom.Dataset) -> str:
    """The Key Object Description (DCM 113012) of the document's content tree."""
    texts = [
        str(item.TextValue)
        for item in ds.ContentSequence
        if item.ValueType == "TEXT" and item.ConceptNameCodeSequence[0].CodeValue == "113012"
    ]
    assert len(texts) == 1, texts
    return texts[0]


def test_selections_are_valid_kos_at_the_sites_listing_exactly_the_selected_series(
    world: LeadWorld,
) -> None:
    lead = world.users["lead"]
    first, second = world.sites["demo-site"], world.sites["demo-site-2"]
    at_first, at_second = _series(world, first), _series(world, second)
    phantom_1 = next((st, se) for st, se in at_first if se["images"] == 120)
    mr_1 = next((st, se) for st, se in at_first if se["modality"] == "MR")
    phantom_2 = next((st, se) for st, se in at_second if se["images"] == 120)
    chosen = [
        (first, phantom_1, "include", "for_annotation"),
        (first, mr_1, "exclude", "motion"),
        (second, phantom_2, "include", "for_annotation"),
    ]
    for site, (study, series), decision, reason in chosen:
        lead.post(
            f"/api/projects/{world.project}/selections/",
            {"site": site, "study_handle": study, "series_handle": series["series"],
             "decision": decision, "reason": reason},
        )  # fmt: skip

    # the sites report each KOS stored in their PACS: central's only trace is kos_state
    deadline = time.monotonic() + KOS_TIMEOUT
    while True:
        recorded = lead.get(f"/api/projects/{world.project}/selections/")["results"]
        states = sorted(s["kos_state"] for s in recorded)
        if states == ["stored"] * 3 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert states == ["stored"] * 3, recorded

    for slug, site in (("demo-site", first), ("demo-site-2", second)):
        folder = world.pacs_folder(slug)
        sources = _source_instances(folder)
        documents = _project_kos(folder, world.slug)
        mine = [c for c in chosen if c[0] == site]
        # one KOS per selection (each selection is its own request; one study each)
        assert len(documents) == len(mine), documents
        wanted = {world.site_uid(slug, c[1][1]["series"]): c for c in mine}
        seen: set[str] = set()
        for path in documents:
            errors, _ = dciodvfy_errors(path)
            assert not errors, f"{path}:\n" + "\n".join(errors)
            ds = pydicom.dcmread(path)
            assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.59"  # Key Object Selection
            listed = _listed(ds)
            assert len(listed) == 1, listed  # the one selected series, nothing else
            ((series_uid, instances),) = listed.items()
            assert series_uid in wanted, "a KOS lists a series that was not selected"
            study_uid, source_instances = sources[series_uid]
            assert instances == source_instances  # every instance of it, no other
            assert ds.StudyInstanceUID == study_uid  # filed under the selected series' study
            seen.add(series_uid)
            _, _, decision, reason = wanted[series_uid]
            title = ds.ConceptNameCodeSequence[0]
            text = _description(ds)
            if decision == "include":
                assert (title.CodeValue, title.CodingSchemeDesignator) == ("113000", "DCM")
                assert '(DCM, 113000, "Of Interest")' in text
            else:  # an exclusion is a "Quality Issue", never an IOCM rejection note
                assert (title.CodeValue, title.CodingSchemeDesignator) == ("113010", "DCM")
                assert text == 'Motion blur; (DCM, 111210, "Motion blur")'
        assert seen == set(wanted)
    # the MR series has two instances (pydicom's MR sample twice, one JPEG-LS): both listed
    mr_uid = world.site_uid("demo-site", mr_1[1]["series"])
    assert len(_source_instances(world.pacs_folder("demo-site"))[mr_uid][1]) == 2
