"""A project of its own on the running demo product (both demo sites, the demo lead, two readers),
made through the REST API as the demo admin: the session-scoped product is shared with other
tests, so the lead's tests never touch the demo project."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import requests

from tests.product import Product


class ApiUser:
    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.http = requests.Session()
        response = self.http.post(
            f"{base}/api/auth/token/", json={"username": username, "password": password}, timeout=30
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["token"]
        self.http.headers["Authorization"] = f"Token {self.token}"
        self.id = int(self.get("/api/me/")["id"])

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(f"{self.base}{path}", params=params, timeout=60)
        assert response.ok, f"{path}: {response.status_code} {response.text}"
        return response.json()

    def post(self, path: str, body: Any, expect: int = 201) -> Any:
        response = self.http.post(f"{self.base}{path}", json=body, timeout=60)
        assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
        return None if response.status_code == 204 else response.json()

    def close(self) -> None:
        self.http.close()


@dataclass
class LeadWorld:
    product: Product
    project: int
    slug: str
    sites: dict[str, int]  # slug → id
    schema: int
    users: dict[str, ApiUser] = field(default_factory=dict)

    def close(self) -> None:
        for user in self.users.values():
            user.close()

    def site_uid(self, site_slug: str, handle: str) -> str:
        """The UID behind a handle, from the site's own handle map (the site's world)."""
        path = self.product.site_state_dir(site_slug) / "handles.sqlite"
        db = sqlite3.connect(path)
        try:
            row = db.execute("SELECT uid FROM handles WHERE handle = ?", (handle,)).fetchone()
        finally:
            db.close()
        assert row is not None, handle
        return str(row[0])

    def pacs_folder(self, site_slug: str) -> Path:
        return self.product.var_dir / "demo" / site_slug / "pacs"


def lead_world(product: Product) -> LeadWorld:
    from annotations.demo import DEMO_SCHEMA  # Django's, imported late: ApiUser needs no settings

    users = {
        name: ApiUser(product.url, name, product.password)
        for name in ("admin", "lead", "annotator", "annotator2")
    }
    admin = users["admin"]
    slug = f"lead-browse-{uuid.uuid4().hex[:8]}"
    project = admin.post("/api/projects/", {"name": f"Browse {slug}", "slug": slug})["id"]
    sites = {s["slug"]: s["id"] for s in admin.get("/api/sites/") if s["slug"].startswith("demo-")}
    # a third site whose gateway never connects: the page must show it offline, not fail
    offline = admin.post("/api/sites/", {"name": f"Offline {slug}", "slug": f"off-{slug}"})
    sites[offline["slug"]] = offline["id"]
    for site_id in sites.values():
        admin.post(f"/api/projects/{project}/sites/", {"site": site_id}, expect=204)
    admin.post(f"/api/projects/{project}/leads/", {"user": users["lead"].id}, expect=204)
    for name in ("annotator", "annotator2"):
        users["lead"].post(f"/api/projects/{project}/members/", {"user": users[name].id}, 204)
    schema = users["lead"].post(
        f"/api/projects/{project}/label-schemas/", {"entries": DEMO_SCHEMA}
    )["id"]
    return LeadWorld(product, project, slug, sites, schema, users)


def source_identifiers(folder: Path) -> set[str]:
    """Patient identifiers and original UIDs of every source object in a demo PACS folder."""
    values: set[str] = set()
    for path in folder.rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in (
            "PatientName", "PatientID", "AccessionNumber", "StudyInstanceUID",
            "SeriesInstanceUID", "SOPInstanceUID",
        ):  # fmt: skip
            value = str(ds.get(keyword, "") or "")
            if len(value) >= 4:
                values.add(value)
    return values
