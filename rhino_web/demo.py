"""`make run`: the product on its embedded defaults, in one command.

Migrates, prepares two demo sites (synthetic data in folder PACS, enrolled gateways), seeds the
demo (idempotent), then runs central (daphne) and both gateways until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rhino_web.serve import daphne_command

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(  # noqa: S603  (our own manage.py)
        [sys.executable, str(ROOT / "manage.py"), *args],
        check=True, cwd=ROOT, text=True, capture_output=capture,
    )  # fmt: skip
    return result.stdout if capture else ""


def gateway_command(config_path: str) -> list[str]:
    return [sys.executable, "-m", "site_gateway", "run", "--config", config_path]


def prepare(
    var_dir: Path, *, port: int, host: str, pacs_url: str | None, slices: int = 120
) -> list[str]:
    """Migrate, set up the demo sites and seed central; returns the gateways' config paths."""
    from rhino_web.demo_stack import prepare_demo_sites

    var_dir.mkdir(parents=True, exist_ok=True)
    _manage("migrate", "--noinput", "-v", "0")
    central_key = _manage("signing_key", "show", capture=True).strip()
    specs = prepare_demo_sites(
        var_dir / "demo",
        central_url=f"ws://{host}:{port}",
        central_key=central_key,
        pacs_url=pacs_url,
        slices=slices,
    )
    _manage("seed_demo", "--sites-json", str(var_dir / "demo" / "sites.json"))
    return [spec.config_path for spec in specs]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def supervise(commands: Sequence[list[str]]) -> int:
    """Run every command; when one exits, on Ctrl-C or on SIGTERM (what a process manager or
    `kill` sends), stop them all — never leave central or a gateway running without us."""
    # Both explicitly: a shell starts background jobs with SIGINT ignored, and Python then does
    # not turn it into KeyboardInterrupt by itself.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [subprocess.Popen(command, cwd=ROOT) for command in commands]  # noqa: S603
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for sig in previous:  # a second signal must not cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        for process in processes:
            if process.poll() is None:
                # TERM, not INT: a child may have inherited an ignored SIGINT; daphne and the
                # gateway stop cleanly on either.
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stopped = (0, None, -signal.SIGINT, -signal.SIGTERM)
    failed = [p.returncode for p in processes if p.returncode not in stopped]
    return failed[0] if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rhino_web.demo")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "migrate, prepare the demo sites, seed and serve"),
        ("prepare", "migrate, prepare the demo sites and seed; print the gateway configs (JSON)"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--slices", type=int, default=120, help="slices of the demo CT")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rhino_web.settings")
    var_dir = Path(os.environ.get("RHINO_VAR_DIR") or ROOT / "var")
    configs = prepare(
        var_dir,
        port=args.port,
        host=args.host,
        pacs_url=os.environ.get("PACS_URL"),
        slices=args.slices,
    )
    if args.command == "prepare":
        print(json.dumps(configs))
        return 0
    print(
        f"Serving Rhino Secure Access on http://{args.host}:{args.port}/ (Ctrl-C to stop)",
        flush=True,
    )
    return supervise(
        [daphne_command(host=args.host, port=args.port), *map(gateway_command, configs)]
    )


if __name__ == "__main__":
    raise SystemExit(main())
