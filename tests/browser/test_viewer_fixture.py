"""A minimal running product for the viewer's browser tests: central on a real daphne (SQLite,
in-memory channel layer, demo seed) and a stand-in site gateway (test_viewer_fakesite.FakeSite)
speaking the real protocol. Used until the lead's ``tests/browser/product.py`` fixture exists;
it yields the same shape: ``{url, users, site_store_path, site_labels}``.

No tests live here; the name keeps it among the viewer's test files.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from imaging.handles import HandleKey, HandleKind
from site_gateway.grants import public_key_b64
from tests.browser.test_viewer_fakesite import FakeSite

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "viewer-e2e-password-0123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}"


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def viewer_product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("viewer-product")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        RHINO_DEBUG="1", RHINO_VAR_DIR=str(base / "var"), DJANGO_SETTINGS_MODULE="rhino_web.settings",
        DEMO_PASSWORD=PASSWORD, RHINO_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT),
    )  # fmt: skip
    (base / "var").mkdir()
    handle_key = HandleKey(b"viewer-e2e-handle-key-0123456789")
    handles = [
        handle_key.handle(HandleKind.SERIES, f"1.2.826.0.1.3680043.10.777.{i}") for i in range(4)
    ]
    site_key = Ed25519PrivateKey.generate()
    # One interpreter for every setup step: each manage.py start costs seconds on a busy machine.
    _manage(
        env, "shell", "-c",
        "from django.core.management import call_command\n"
        "from annotations.models import Site, User\n"
        "from annotations.services.sites import site_register_gateway_key\n"
        "call_command('migrate', '--noinput', verbosity=0)\n"
        "call_command('signing_key', 'create')\n"
        f"call_command('seed_demo', *{[a for h in handles for a in ('--series-handle', h)]!r})\n"
        "site_register_gateway_key(actor=User.objects.get(username='admin'), "
        f"site=Site.objects.get(slug='demo-site'), public_key={public_key_b64(site_key)!r})\n",
    )  # fmt: skip
    port = free_port()
    log = (base / "daphne.log").open("wb")
    daphne = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "rhino_web.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    store = base / "site-store"
    central_pem = (base / "var" / "keys" / "central-ed25519.pem").read_bytes()
    central = load_pem_private_key(central_pem, password=None)
    assert isinstance(central, Ed25519PrivateKey)
    site = FakeSite(
        url=f"ws://127.0.0.1:{port}", site="demo-site", key=site_key,
        central_key=central.public_key(), store=store,
    )  # fmt: skip
    try:
        _wait_http(f"{url}/healthz")
        site.start()
        assert site.online.wait(20), "the stand-in gateway did not authenticate"

        def site_labels(task_id: int) -> dict[str, Any] | None:
            path = store / f"task-{task_id}.json"
            return json.loads(path.read_text()) if path.exists() else None

        yield {
            "url": url,
            "users": {name: PASSWORD for name in ("annotator", "annotator2", "lead", "admin")},
            "site_store_path": store,
            "site_labels": site_labels,
            "daphne_log": base / "daphne.log",
        }
    finally:
        site.stop()
        daphne.terminate()
        try:
            daphne.wait(10)
        except subprocess.TimeoutExpired:
            daphne.kill()
        log.close()
