"""Scale-out benchmark: 4 viewers at once through 2 daphne workers + Redis + PostgreSQL behind nginx.

The deployment of docs/deploy/nginx.conf, on loopback: nginx hashes on the session id in the
socket path, so each session's browser socket and gateway data link meet in one worker and frames
are relayed in memory; control (attach, revoke) crosses workers through channels_redis. Two demo
gateways (folder PACS, synthetic CT) dial in through nginx like real sites.

Each viewer scrolls its CT once to warm the site's cache, then all four scroll together with up to
4 requests in flight; prints frames/s per viewer and request→frame p50/p95. Needs nginx, PostgreSQL
(127.0.0.1:5432, trust) and Redis (127.0.0.1:6379). Prints figures; asserts nothing about speed.

    python bench/scaleout.py
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.relay import pct, scrolling, sequential  # noqa: E402
from rhino_web.demo import gateway_command  # noqa: E402
from rhino_web.serve import daphne_command  # noqa: E402
from tests.e2e.client import open_viewer, signed_in  # noqa: E402
from tests.product import DEMO_PASSWORD, Product, free_port, wait_for_port  # noqa: E402

DATABASE = "rhino_bench_scaleout"

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    map $uri $rhino_affinity {{
        "~^/ws/(?:gateway/)?sessions/(?<sid>[0-9a-f-]{{36}})/" $sid;
        default $request_id;
    }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream rhino_central {{
        hash $rhino_affinity consistent;
        server 127.0.0.1:{w1};
        server 127.0.0.1:{w2};
    }}
    server {{
        listen 127.0.0.1:{port};
        gzip off;
        location /ws/ {{
            proxy_pass http://rhino_central;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_read_timeout 1h;
            proxy_buffering off;
        }}
        location / {{
            proxy_pass http://rhino_central;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
        }}
    }}
}}
"""


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-d", "postgres", "-q", "-c", sql], check=True)


async def _viewers(product: Product) -> None:
    sessions = []
    for user in ("annotator", "annotator2"):
        http = signed_in(product, user)
        tasks = http.get(f"{product.url}/api/tasks/?assignee=me", timeout=10).json()["results"]
        # Each reader's phantom CT at each site: the series every demo site puts first.
        firsts: dict[int, dict[str, Any]] = {}
        for task in sorted(tasks, key=lambda t: t["id"]):
            firsts.setdefault(task["site"], task)
        sessions += [(user, http, task) for task in firsts.values()]
    viewers = []
    for user, http, task in sessions[:4]:
        viewer = await open_viewer(product, http, task["id"])
        await viewer.send({"type": "series.info", "seq": 1, "series": task["series_handle"]})
        info = await viewer.next_text("series.info", timeout=120)
        viewers.append(
            (f"{user}@{task['site_name']}", viewer, task["series_handle"], int(info["slices"]))
        )
    for _, viewer, series, slices in viewers:  # warm the sites' caches, one viewer at a time
        await sequential(viewer, series, slices, "preview", 10_000)
    started = time.perf_counter()
    results = await asyncio.gather(
        *(scrolling(viewer, series, slices, 20_000) for _, viewer, series, slices in viewers)
    )
    wall = time.perf_counter() - started
    print(
        f"{len(viewers)} viewers scrolling together, 2 daphne workers + Redis + PostgreSQL behind nginx:"
    )
    for (name, *_), (latencies, elapsed, cancelled) in zip(viewers, results, strict=True):
        print(
            f"  {name:<40} {len(latencies) / elapsed:7.1f} frames/s  p50={pct(latencies, 0.5):6.1f} ms"
            f"  p95={pct(latencies, 0.95):6.1f} ms  ({cancelled} superseded)"
        )
    print(
        f"  all together: {sum(len(r[0]) for r in results) / wall:.1f} frames/s over {wall:.1f} s"
    )
    for _, viewer, _, _ in viewers:
        await viewer.ws.close()


def main() -> None:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        print("nginx is not installed (apt-get install nginx-light): no scale-out figure")
        return
    tmp = Path(tempfile.mkdtemp(prefix="rhino-bench-scaleout-"))
    port, w1, w2 = free_port(), free_port(), free_port()
    _psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    _psql(f"CREATE DATABASE {DATABASE}")
    env = {
        **os.environ,
        "RHINO_DEBUG": "1",
        "RHINO_VAR_DIR": str(tmp),
        "DJANGO_SETTINGS_MODULE": "rhino_web.settings",
        "DATABASE_URL": f"postgres://root@127.0.0.1:5432/{DATABASE}",
        "REDIS_URL": "redis://127.0.0.1:6379/5",
        "RHINO_WORKERS": "2",
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "PYTHONPATH": str(ROOT),
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        prepared = subprocess.run(
            [sys.executable, "-m", "rhino_web.demo", "prepare", "--port", str(port)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        configs = json.loads(prepared.stdout.strip().splitlines()[-1])
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port, w1=w1, w2=w2))
        log = open(tmp / "servers.log", "ab")  # noqa: SIM115  (closed with the processes)
        commands = [
            ["/usr/sbin/nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
            daphne_command(host="127.0.0.1", port=w1, proxy_headers=True),
            daphne_command(host="127.0.0.1", port=w2, proxy_headers=True),
        ]
        for command in commands:
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log))
        for listening in (port, w1, w2):
            wait_for_port(listening)
        for config in configs:
            processes.append(
                subprocess.Popen(gateway_command(config), cwd=ROOT, env=env, stdout=log, stderr=log)
            )
        product = Product(
            url=f"http://127.0.0.1:{port}", port=port, var_dir=tmp, env=env, gateway_configs=configs
        )
        product.wait_sites_online(timeout=120)
        asyncio.run(_viewers(product))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        log_tail = (
            (tmp / "servers.log").read_text(errors="replace")[-3000:]
            if (tmp / "servers.log").exists()
            else ""
        )
        if sys.exc_info()[0] is not None:
            print(f"servers' log (tail):\n{log_tail}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
        _psql(f"DROP DATABASE IF EXISTS {DATABASE}")


if __name__ == "__main__":
    main()
