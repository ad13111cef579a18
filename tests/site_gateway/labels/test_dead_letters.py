"""The custodian's dead-letter list, the reason on the wire, and requeueing."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from site_gateway.__main__ import build_parser
from site_gateway.config import load_config
from site_gateway.grants import Grant
from site_gateway.labels.cli import add_parser, cmd_dead_letters, labels_path
from site_gateway.labels.outbox import Outbox
from site_gateway.labels.service import LabelService, public_reason
from site_gateway.labels.store import LabelStore
from tests.site_gateway.labels.helpers import SITE, point_document


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'site = "{SITE}"\ncentral_url = "ws://127.0.0.1:9"\npacs_url = "folder:{tmp_path}"\n'
        f'state_dir = "{tmp_path / "state"}"\n'
    )
    (tmp_path / "state").mkdir()
    return path


def _args(config: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["dead-letters", "--config", str(config), *extra])


async def test_dead_letters_are_listed_with_their_reason_and_can_be_requeued(
    tmp_path: Path, service: LabelService, grant: Grant, handle: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    config = _config(tmp_path)
    assert cmd_dead_letters(_args(config)) == 0
    assert "nothing saved yet" in capsys.readouterr().out
    store = LabelStore(labels_path(load_config(config)), site=SITE)
    labels = LabelService(store, service.pacs, service.lookup, run_worker=False)
    await labels.save(grant, point_document(handle, 1, None))
    outbox = Outbox(store.db, store.lock)
    (sop_uid,) = [r[0] for r in store.db.execute("SELECT sop_uid FROM outbox")]
    reason = "failure_status (status 0xA900): C-STORE ended with status 0xA900"
    outbox.mark_dead(sop_uid, reason)
    store.close()
    assert cmd_dead_letters(_args(config)) == 0
    out = capsys.readouterr().out
    assert "1 dead letter(s)" in out
    assert sop_uid in out
    assert "0xA900" in out
    assert public_reason(reason) == "failure_status (status 0xA900)"
    assert cmd_dead_letters(_args(config, "--requeue", sop_uid)) == 0
    out = capsys.readouterr().out
    assert f"requeued: {sop_uid}" in out
    assert "no dead letters" in out


def test_the_command_line_has_dead_letters() -> None:
    args = build_parser().parse_args(["dead-letters", "--config", "gateway.toml"])
    assert args.handler is cmd_dead_letters
