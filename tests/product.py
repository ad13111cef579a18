"""The running product for end-to-end tests: central (daphne) and the two demo gateways over
folder PACS with synthetic data — exactly what `make run` starts, on free ports in a temp dir."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from rhino_web.demo import gateway_command
from rhino_web.serve import daphne_command

ROOT = Path(__file__).resolve().parents[1]
DEMO_PASSWORD = "demo-password-e2e"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


@dataclass
class Product:
    url: str  # http://localhost:PORT (localhost: a secure context for cookies in Chromium)
    port: int
    var_dir: Path
    env: dict[str, str]
    gateway_configs: list[str]
    password: str = DEMO_PASSWORD
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)

    def site_state_dir(self, slug: str) -> Path:
        return self.var_dir / "demo" / slug / "gateway"

    @property
    def users(self) -> dict[str, str]:
        """Demo user name → password."""
        from annotations.demo import DEMO_USERS

        return dict.fromkeys(DEMO_USERS, self.password)

    def site_labels(self, task_id: int) -> dict[str, Any] | None:
        """The newest label revision of a task, read from its site's label store (the site's
        world: central has none of this)."""
        from site_gateway.labels.store import LabelStore, task_subject

        for store_path in sorted((self.var_dir / "demo").glob("*/gateway/labels.sqlite")):
            store = LabelStore(store_path, site=store_path.parent.parent.name)
            try:
                revision = store.latest(task_subject(task_id))
            finally:
                store.close()
            if revision is not None:
                document = {"task": revision.task, "annotations": json.loads(revision.payload)}
                return {
                    "document": document,
                    "revision": revision.revision,
                    "state": revision.state,
                }
        return None

    def start(self, name: str, command: list[str]) -> None:
        log = open(self.var_dir / f"{name}.log", "ab")  # noqa: SIM115  (lives as long as the process)
        self.logs[name] = log
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=log
        )

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.logs.pop(name).close()

    def start_gateway(self, index: int) -> None:
        self.start(f"gateway-{index}", gateway_command(self.gateway_configs[index]))

    def wait_sites_online(self, timeout: float = 60) -> None:
        """Until every demo site's gateway has authenticated to central."""
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz/sites", timeout=10) as reply:  # noqa: S310
                    if json.loads(reply.read()).get("offline") == 0:
                        return
            except OSError:  # a loaded machine answers slowly: keep asking until the deadline
                pass
            time.sleep(0.3)
        raise RuntimeError("demo gateways did not come online")

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)


def start_product(var_dir: Path, *, slices: int = 120) -> Product:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "RHINO_DEBUG": "1",  # exactly what `make run` serves: the embedded defaults
        "RHINO_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "rhino_web.settings",
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONPATH": str(ROOT),
    }
    prepared = subprocess.run(
        [sys.executable, "-m", "rhino_web.demo", "prepare", "--port", str(port), "--host", "127.0.0.1",
         "--slices", str(slices)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    configs = json.loads(prepared.stdout.strip().splitlines()[-1])
    product = Product(
        url=f"http://localhost:{port}", port=port, var_dir=var_dir, env=env, gateway_configs=configs
    )
    product.start("central", daphne_command(host="127.0.0.1", port=port))
    wait_for_port(port)
    for index in range(len(configs)):
        product.start_gateway(index)
    product.wait_sites_online()
    return product


@pytest.fixture(scope="session")
def demo_product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    running = start_product(tmp_path_factory.mktemp("product"))
    try:
        yield running
    finally:
        running.close()


@contextmanager
def daphne_with_world(var_dir: Path, world_module: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """A real daphne on a free loopback port over a fresh SQLite database that ``world_module``
    (run as ``python -m``; it prints its world as JSON on its last line) has built; yields
    (port, world). The server stops with the block, open sockets or not."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "RHINO_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir}/central.sqlite3",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)  # one worker: the in-memory channel layer is right
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    built = subprocess.run(
        [sys.executable, "-m", world_module],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    world = json.loads(built.stdout.strip().splitlines()[-1])
    port = free_port()
    with open(var_dir / "daphne.log", "w") as log:
        process = subprocess.Popen(
            daphne_command(host="127.0.0.1", port=port), env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            wait_for_port(port, timeout=30)
            yield port, world
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # daphne waits for open sockets; the test is over
                process.kill()
                process.wait(timeout=10)
