"""The operator commands that need a configuration: ``run``, ``enroll``, ``audit-verify``, and
the configuration-based checks of ``doctor`` (keys enrolled, central reachable).

``__main__`` only parses arguments and calls these; each returns the process exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from site_gateway.config import ConfigError, GatewayConfig, load_config
from site_gateway.doctor import Check, CheckResult
from site_gateway.keys import EnrollmentError, enroll, key_fingerprint, load_keys
from site_gateway.link import LinkAuthError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _config(args: argparse.Namespace) -> GatewayConfig | None:
    try:
        return load_config(args.config)
    except ConfigError as exc:
        print(f"configuration: {exc}", file=sys.stderr)
        return None


def cmd_run(args: argparse.Namespace) -> int:
    from site_gateway.service import run

    config = _config(args)
    if config is None:
        return EXIT_USAGE
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # pynetdicom logs every query identifier (PatientID included) at INFO: even the site's own
    # log should not collect identifiers it does not need.
    logging.getLogger("pynetdicom").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        asyncio.run(run(config))
    except EnrollmentError as exc:
        print(f"not enrolled: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_enroll(args: argparse.Namespace) -> int:
    config = _config(args)
    if config is None:
        return EXIT_USAGE
    try:
        result = enroll(config, args.central_key)
    except EnrollmentError as exc:
        print(f"enroll: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"site: {config.site}")
    print(f"gateway public key (register it on the site in central): {result.public_key}")
    print(
        f"key fingerprint (central's site page shows the same): {key_fingerprint(result.public_key)}"
    )
    print(f"key file: {config.key_path} ({'created' if result.created_key else 'kept'})")
    if result.created_secret:
        print(f"site secret created: {config.secret_path} (back it up: handles depend on it)")
    if result.pinned_central:
        print(f"central's key pinned: {config.central_key_path}")
    elif not config.central_key_path.exists():
        print("central's key is not pinned yet: enroll again with --central-key B64")
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from site_gateway.site_audit import verify

    config = _config(args)
    if config is None:
        return EXIT_USAGE
    if not config.audit_path.exists():
        print(f"no site audit at {config.audit_path}", file=sys.stderr)
        return EXIT_FAILED
    try:
        keys = load_keys(config)
    except EnrollmentError as exc:
        print(f"audit-verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result = verify(config.audit_path, keys.audit_key)
    if result.ok:
        print(f"site audit intact: {result.entries} entries")
        return EXIT_OK
    print(
        f"site audit BROKEN at entry {result.first_bad}: {result.reason} "
        f"({result.entries} entries before it verify)"
    )
    return EXIT_FAILED


def config_checks(config: GatewayConfig) -> Check:
    """Key enrollment, then central: reachable, proves its pinned key, accepts ours."""

    async def run() -> list[CheckResult]:
        from site_gateway.service import probe_central

        try:
            keys = load_keys(config)
        except EnrollmentError as exc:
            return [CheckResult("key enrollment", False, str(exc))]
        results = [CheckResult("key enrollment", True, "gateway key, central key and secret")]
        started = time.monotonic()
        hint = ""
        try:
            detail = await probe_central(config, keys)
            ok = True
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            ok, detail = False, f"cannot reach {config.control_url}: {exc}"
            if isinstance(exc, InvalidStatus):
                hint = "is central_url right, and does the proxy pass WebSockets to /ws/gateway/?"
            else:
                hint = "is central running, and may this host open outbound connections to it?"
        except LinkAuthError as exc:
            ok, detail = False, str(exc)
            hint = "re-pin central's key: enroll --central-key B64 (ask central's admin)"
        except ConnectionClosed as exc:
            ok, detail = False, f"central closed the link ({exc.rcvd.code if exc.rcvd else '?'})"
            hint = "has the custodian registered this gateway's public key on the site?"
        results.append(CheckResult("central", ok, detail, time.monotonic() - started, hint))
        return results

    return run
