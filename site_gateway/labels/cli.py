"""``python -m site_gateway dead-letters --config gateway.toml``: the objects the PACS refused.

For the site custodian: each dead letter with its reason (the DICOM status or the build error),
and ``--requeue SOP_UID`` to send one again once the cause is fixed on the PACS side. The project
lead sees the task's state ("failed") in central; reasons and UIDs stay at the site.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from site_gateway.config import ConfigError, GatewayConfig, load_config
from site_gateway.labels.outbox import Outbox
from site_gateway.labels.store import LabelStore


def labels_path(config: GatewayConfig) -> Path:
    """The label store lives with the gateway's other state (one directory to back up)."""
    return config.labels_path


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("dead-letters", help="list write-back objects the PACS refused")
    parser.add_argument("--config", metavar="TOML", help="gateway.toml")
    parser.add_argument(
        "--requeue", metavar="SOP_UID", action="append", default=[], help="send one again"
    )
    parser.set_defaults(handler=cmd_dead_letters)


def cmd_dead_letters(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"configuration: {exc}", file=sys.stderr)
        return 2
    path = labels_path(config)
    if not path.exists():
        print(f"no label store at {path}: nothing saved yet")
        return 0
    store = LabelStore(path, site=config.site)
    try:
        outbox = Outbox(store.db, store.lock)
        for sop_uid in args.requeue:
            done = outbox.requeue(sop_uid, time.time())
            print(f"{'requeued' if done else 'not a dead letter'}: {sop_uid}")
        letters = outbox.dead_letters()
        if not letters:
            print("no dead letters")
            return 0
        print(f"{len(letters)} dead letter(s):")
        for letter in letters:
            when = datetime.fromtimestamp(letter["created_at"], UTC).isoformat(timespec="seconds")
            print(
                f"{when}  {letter['subject']} r{letter['revision']}  {letter['kind'].upper()}  "
                f"attempts {letter['attempts']}  {letter['sop_uid']}\n    {letter['reason']}"
            )
        return 0
    finally:
        store.close()
