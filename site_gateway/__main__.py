"""``python -m site_gateway COMMAND``: the gateway's command line.

Commands so far: ``doctor`` and ``demo-data``. ``run`` and ``enroll`` are added as further
subparsers with their own handler (see ``build_parser``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path


def _doctor(args: argparse.Namespace) -> int:
    from site_gateway.doctor import format_report, pacs_checks, run_checks

    checks = []
    if args.pacs:
        checks.append(pacs_checks(args.pacs))
    if not checks:
        print("nothing to check: give --pacs URL", file=sys.stderr)
        return 2
    results = asyncio.run(run_checks(checks))
    print(format_report(results))
    return 0 if all(r.ok for r in results) else 1


def _demo_data(args: argparse.Namespace) -> int:
    from site_gateway.demo_data import write_demo_site, write_demo_sites

    if args.slices < 1 or args.sites < 1:
        print("--slices and --sites must be at least 1", file=sys.stderr)
        return 2
    if args.sites == 1:
        sites = [write_demo_site(args.out_dir, slices=args.slices, seed=args.seed)]
    else:
        sites = write_demo_sites(args.out_dir, count=args.sites, slices=args.slices)
    for site in sites:
        print(f"{site.folder}: CT phantom, {site.slices} slices, patient {site.patient_name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m site_gateway")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    doctor = commands.add_parser("doctor", help="check the PACS (and later central, the keys)")
    doctor.add_argument("--pacs", metavar="URL", help="folder:PATH, dimse://AE@host:port, …")
    doctor.set_defaults(handler=_doctor)

    demo = commands.add_parser("demo-data", help="write synthetic demo DICOM for a folder PACS")
    demo.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    demo.add_argument("--slices", type=int, default=120, help="CT slices (default 120)")
    demo.add_argument("--seed", type=int, default=1, help="which demo patient (default 1)")
    demo.add_argument(
        "--sites", type=int, default=1, help="write N distinct sites into OUT_DIR/site-1…"
    )
    demo.set_defaults(handler=_demo_data)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
