"""Central stores nothing of the images or labels it relays: after a scripted session that views
frames and saves labels, central's database dump, logs and files hold no pixel bytes, no label
geometry and none of the demo data's original UIDs, patient names or ids."""

from __future__ import annotations

import sqlite3

import pydicom

from tests.e2e.client import open_viewer, signed_in
from tests.product import Product

# Distinctive numbers that can only come from the label document below.
GEOMETRY = [[123.4567, 234.5678], [345.6789, 234.5678], [345.6789, 301.2345]]


def _site_identifiers(product: Product) -> set[str]:
    """Every UID, patient name and id in the demo PACS folders (the site's world)."""
    found: set[str] = set()
    for path in (product.var_dir / "demo").glob("*/pacs/**/*"):
        if not path.is_file() or path.name.startswith(".rhino"):
            continue
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        for keyword in (
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "SOPInstanceUID",
            "PatientID",
            "FrameOfReferenceUID",
        ):
            value = ds.get(keyword)
            if value:
                found.add(str(value))
        if ds.get("PatientName"):
            found.add(str(ds.PatientName))
    return found


def _central_corpus(product: Product) -> bytes:
    """What central keeps: its database (dumped as SQL text and raw), its logs and its files."""
    chunks: list[bytes] = []
    for path in product.var_dir.rglob("*"):
        if not path.is_file() or (product.var_dir / "demo") in path.parents:
            continue  # var/demo/… is the sites' world (PACS folders, gateway state), not central's
        if path.name.startswith("gateway-") and path.suffix == ".log":
            continue  # the gateways' own logs stay at their sites
        chunks.append(path.read_bytes())
    database = product.var_dir / "central.sqlite3"
    with sqlite3.connect(database) as db:
        chunks.append("\n".join(db.iterdump()).encode())
    return b"\n".join(chunks)


async def test_central_keeps_no_pixels_geometry_uids_or_patient_identifiers(
    demo_product: Product,
) -> None:
    product = demo_product
    http = signed_in(product, "annotator")
    tasks = http.get(f"{product.url}/api/tasks/?assignee=me", timeout=10).json()["results"]
    task = tasks[0]
    viewer = await open_viewer(product, http, task["id"])
    series = task["series_handle"]
    await viewer.send({"type": "series.info", "seq": 1, "series": series})
    info = await viewer.next_text("series.info")
    images = []
    for seq, index in enumerate(range(0, min(info["slices"], 12), 3), start=10):
        await viewer.send(
            {
                "type": "frame.request",
                "seq": seq,
                "series": series,
                "index": index,
                "quality": "lossless",
            }
        )
        images.append((await viewer.next_frame(seq))[1])
    document = {
        "version": 1, "task": task["id"], "schema_version": 1, "base_revision": None,
        "annotations": [{"uid": "privacy-1", "tool": "polygon", "label": "nodule",
                         "frame": {"series": series, "index": 0}, "geometry": {"points": GEOMETRY}}],
    }  # fmt: skip
    await viewer.send({"type": "label.save", "seq": 99, "document": document})
    await viewer.ws.close()

    corpus = _central_corpus(product)
    assert images and all(len(image) > 1000 for image in images)
    for image in images:
        middle = image[len(image) // 2 : len(image) // 2 + 48]
        assert middle not in corpus, "pixel bytes reached central's storage"
    for number in ("123.4567", "234.5678", "345.6789", "301.2345"):
        assert number.encode() not in corpus, "label geometry reached central's storage"
    identifiers = _site_identifiers(product)
    assert len(identifiers) > 10
    leaked = sorted(i for i in identifiers if i.encode() in corpus)
    assert leaked == [], f"site identifiers in central's storage: {leaked}"
    assert b"DEMO^PHANTOM" not in corpus
