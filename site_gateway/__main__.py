"""``python -m site_gateway COMMAND``: the gateway's command line.

Commands: ``run``, ``enroll``, ``audit-verify`` and ``doctor`` (with ``--config``; their work is
in ``site_gateway.commands``), ``dead-letters`` (``site_gateway.labels.cli``) and ``demo-data``.
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
    if args.config:
        from site_gateway.commands import config_checks
        from site_gateway.config import ConfigError, load_config

        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(f"configuration: {exc}", file=sys.stderr)
            return 2
        checks.append(pacs_checks(args.pacs or config.pacs_url))
        checks.append(config_checks(config))
    elif args.pacs:
        checks.append(pacs_checks(args.pacs))
    if not checks:
        print("nothing to check: give --config gateway.toml or --pacs URL", file=sys.stderr)
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

    doctor = commands.add_parser("doctor", help="check the PACS, the keys and central")
    doctor.add_argument("--config", metavar="TOML", help="the gateway's configuration file")
    doctor.add_argument("--pacs", metavar="URL", help="folder:PATH, dimse://AE@host:port, …")
    doctor.set_defaults(handler=_doctor)

    from site_gateway import commands as gateway_commands

    run = commands.add_parser("run", help="run the gateway service")
    run.add_argument("--config", metavar="TOML", help="gateway.toml (RHINO_GW_* env overrides)")
    run.set_defaults(handler=gateway_commands.cmd_run)
    enroll = commands.add_parser("enroll", help="create the key pair, pin central's key")
    enroll.add_argument("--config", metavar="TOML", help="gateway.toml")
    enroll.add_argument("--central-key", metavar="B64", help="central's Ed25519 public key")
    enroll.set_defaults(handler=gateway_commands.cmd_enroll)
    audit = commands.add_parser("audit-verify", help="check the site audit's hash chain")
    audit.add_argument("--config", metavar="TOML", help="gateway.toml")
    audit.set_defaults(handler=gateway_commands.cmd_audit_verify)
    from site_gateway.labels.cli import add_parser as add_dead_letters

    add_dead_letters(commands)  # dead-letters: write-back objects the PACS refused

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
