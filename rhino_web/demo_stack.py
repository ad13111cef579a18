"""The demo's moving parts beside central: folder PACS with synthetic data, enrolled gateways.

Used by `make run` (``rhino_web.demo``) and by the end-to-end test fixture, so both run the same
stack. This is a launcher, not central: it may import the gateway's library to set a demo site up
the way a site custodian would (demo data, gateway config, enrollment, the series handles a lead
would have selected). Central itself never imports the gateway's PACS or key code.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from imaging.handles import HandleKey
from site_gateway.config import load_config
from site_gateway.demo_data import write_demo_site
from site_gateway.handle_map import HandleMap
from site_gateway.keys import enroll, load_keys
from site_gateway.pacs import StudyQuery, open_pacs

# (slug, name, seed): two hospitals, as the lead workspace demo needs.
DEMO_SITES = (("demo-site", "Demo Hospital", 1), ("demo-site-2", "Second Demo Hospital", 2))
TASK_MODALITIES = ("CT", "MR")


@dataclass(frozen=True)
class SiteSpec:
    slug: str
    name: str
    public_key: str  # the gateway's, for central's Site record
    series_handles: list[str]  # series a lead "selected": the demo's tasks
    config_path: str


def _write_config(
    path: Path, *, slug: str, central_url: str, pacs_url: str, state_dir: Path
) -> None:
    path.write_text(
        "\n".join(
            [
                f"site = {json.dumps(slug)}",
                f"central_url = {json.dumps(central_url)}",
                f"pacs_url = {json.dumps(pacs_url)}",
                f"state_dir = {json.dumps(str(state_dir))}",
                'projects = ["*"]',
                "cache_memory_bytes = 536870912",
                "",
            ]
        )
    )


async def _series_handles(config_path: Path, limit: int) -> list[str]:
    """The largest CT/MR series of the site's PACS (the phantom first), entered in the gateway's
    handle map as a lead's selection would."""
    config = load_config(config_path, env={})
    candidates: list[tuple[int, str, str]] = []
    async with open_pacs(config.pacs_url) as pacs:
        for study in await pacs.find_studies(StudyQuery(limit=50)):
            for series in await pacs.find_series(study.study_uid):
                if series.modality in TASK_MODALITIES:
                    size = series.number_of_instances or 0
                    candidates.append((-size, study.study_uid, series.series_uid))
    handles = HandleMap(config.handles_path, HandleKey(load_keys(config).handle_key))
    try:
        return [
            handles.add_series(study, series) for _, study, series in sorted(candidates)[:limit]
        ]
    finally:
        handles.close()


def prepare_demo_sites(
    root: Path,
    *,
    central_url: str,
    central_key: str,
    pacs_url: str | None = None,
    slices: int = 120,
    tasks_per_site: int = 2,
) -> list[SiteSpec]:
    """Demo data, gateway config and enrollment for each demo site; idempotent.

    ``pacs_url`` (the README's PACS_URL) points the first site at an existing PACS instead of
    its demo folder.
    """
    specs = []
    for index, (slug, name, seed) in enumerate(DEMO_SITES):
        base = root / slug
        pacs_dir = base / "pacs"
        if index == 0 and pacs_url:
            url = pacs_url
        else:
            if not (pacs_dir / "ct").exists():
                write_demo_site(pacs_dir, slices=slices, seed=seed)
            url = f"folder:{pacs_dir}"
        config_path = base / "gateway.toml"
        base.mkdir(parents=True, exist_ok=True)
        _write_config(
            config_path,
            slug=slug,
            central_url=central_url,
            pacs_url=url,
            state_dir=base / "gateway",
        )
        enrolled = enroll(load_config(config_path, env={}), central_key)
        handles = asyncio.run(_series_handles(config_path, tasks_per_site))
        specs.append(SiteSpec(slug, name, enrolled.public_key, handles, str(config_path)))
    (root / "sites.json").write_text(json.dumps([asdict(spec) for spec in specs], indent=2))
    return specs
