"""The delivery worker alone in a process, so a test can ``kill -9`` it mid-delivery.

``python -m tests.site_gateway.labels.worker_main STORE PACS_URL SITE``
"""

from __future__ import annotations

import asyncio
import sys

from site_gateway.labels.builder import BuildContext
from site_gateway.labels.delivery import DeliveryWorker, RetryPolicy
from site_gateway.labels.store import LabelStore
from site_gateway.pacs import open_pacs


async def main(store_path: str, pacs_url: str, site: str) -> None:
    store = LabelStore(store_path, site=site)
    pacs = open_pacs(pacs_url)
    policy = RetryPolicy(base=0.01, cap=0.2, store_timeout=20.0, idle_poll=0.05)
    worker = DeliveryWorker(store, pacs, context=BuildContext(site), policy=policy)
    await worker.run_forever()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
