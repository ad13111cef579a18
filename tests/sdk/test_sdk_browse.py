"""The series browser on the running product (central on daphne, the two demo gateways on their
folder PACS): the SDK gets what the API gets, every site answers (an unconnected one ``offline``),
and no patient identifier or original UID reaches the reply or central's database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from rhino_sdk import RhinoClient, RhinoError
from tests.browser.lead_product import LeadWorld, lead_world, source_identifiers
from tests.product import Product


@pytest.fixture(scope="module")
def world(demo_product: Product) -> Iterator[LeadWorld]:
    built = lead_world(demo_product)
    yield built
    built.close()


def _api_query(world: LeadWorld, site: int, **params: Any) -> dict[str, Any]:
    lead = world.users["lead"]
    return dict(lead.get(f"/api/projects/{world.project}/sites/{site}/series/", **params))


def test_the_sdk_gets_the_same_answers_as_the_api(world: LeadWorld) -> None:
    with RhinoClient(world.product.url, world.users["lead"].token, timeout=60) as sdk:
        by_sdk = {r["site"]: r for r in sdk.query_series(world.project, modality="CT")}
        by_api = {s: _api_query(world, s, modality="CT") for s in world.sites.values()}
        assert by_sdk == by_api
        states = {slug: by_api[site]["status"] for slug, site in world.sites.items()}
        assert states == {"demo-site": "ok", "demo-site-2": "ok", f"off-{world.slug}": "offline"}
        for slug in ("demo-site", "demo-site-2"):
            series = [s for st in by_api[world.sites[slug]]["studies"] for s in st["series"]]
            assert series and {s["modality"] for s in series} == {"CT"}
        one = by_api[world.sites["demo-site"]]["studies"][0]["series"][0]["series"]
        site = world.sites["demo-site"]
        jpeg = sdk.series_thumbnail(world.project, site, one)
        assert jpeg[:3] == b"\xff\xd8\xff"
        response = requests.get(
            f"{world.product.url}/api/projects/{world.project}/sites/{site}/series/{one}/thumbnail",
            headers={"Authorization": f"Token {world.users['lead'].token}"},
            timeout=60,
        )
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.content == jpeg and float(response.headers["X-Slice-Thickness"]) > 0
        # a read-only check of another slice of the phantom, larger: the same bytes through both
        phantom = next(
            s["series"]
            for st in by_api[site]["studies"]
            for s in st["series"]
            if s["images"] == 120
        )
        middle = sdk.series_thumbnail(world.project, site, phantom)
        first = sdk.series_thumbnail(world.project, site, phantom, index=0, size=256)
        checked = requests.get(
            f"{world.product.url}/api/projects/{world.project}/sites/{site}/series/{phantom}/thumbnail",
            params={"index": 0, "size": 256},
            headers={"Authorization": f"Token {world.users['lead'].token}"},
            timeout=60,
        )
        assert checked.headers["X-Index"] == "0" and checked.headers["X-Images"] == "120"
        assert checked.content == first and first != middle
        with pytest.raises(RhinoError) as beyond:
            sdk.series_thumbnail(world.project, site, phantom, index=120)
        assert (beyond.value.code, beyond.value.status) == ("bad_message", 400)
        assert "120 images" in beyond.value.message
        # a handle of the other site is unknown there: a coded 404, not a crash
        with pytest.raises(RhinoError) as unknown:
            sdk.series_thumbnail(world.project, world.sites["demo-site-2"], one)
        assert (unknown.value.code, unknown.value.status) == ("not_found", 404)


def test_an_annotator_is_refused_through_the_sdk(world: LeadWorld) -> None:
    with RhinoClient(world.product.url, world.users["annotator"].token, timeout=60) as sdk:
        with pytest.raises(RhinoError) as refused:
            sdk.query_series(world.project, site=world.sites["demo-site"])
        assert (refused.value.code, refused.value.status) == ("permission_denied", 403)


def test_no_patient_identifier_or_original_uid_leaves_the_sites(world: LeadWorld) -> None:
    replies = json.dumps([_api_query(world, s) for s in world.sites.values()])
    secrets = set()
    for slug in ("demo-site", "demo-site-2"):
        secrets |= source_identifiers(world.pacs_folder(slug))
    assert len(secrets) > 20  # names, IDs and UIDs of both sites' studies, series and instances
    leaked = sorted(v for v in secrets if v in replies)
    assert not leaked, leaked
    # nor central's database (tables, WAL): browsing stores nothing but the audit of the query
    var = world.product.var_dir
    stored = b"".join(p.read_bytes() for p in var.glob("central.sqlite3*"))
    assert stored, "central's database not found"
    leaked = sorted(v for v in secrets if v.encode() in stored)
    assert not leaked, leaked
