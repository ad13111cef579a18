"""`make run`: the product on its embedded defaults, in one command.

Migrates, seeds the demo (idempotent), then serves central with daphne on 127.0.0.1:PORT.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from rhino_web.serve import daphne_command

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)  # noqa: S603


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rhino_web.demo")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate, seed the demo and serve")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    run.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rhino_web.settings")
    (ROOT / "var").mkdir(exist_ok=True)
    _manage("migrate", "--noinput", "-v", "0")
    _manage("seed_demo")
    print(
        f"Serving Rhino Secure Access on http://{args.host}:{args.port}/ (Ctrl-C to stop)",
        flush=True,
    )
    daphne = daphne_command(host=args.host, port=args.port)
    try:
        return subprocess.call(daphne, cwd=ROOT)  # noqa: S603
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
