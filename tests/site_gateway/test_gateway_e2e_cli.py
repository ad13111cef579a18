"""The operator commands as a site custodian runs them: enroll, run, doctor, audit-verify."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

from imaging import HandleKey
from site_gateway.config import load_config
from site_gateway.grants import public_key_b64, public_key_from_b64
from site_gateway.handle_map import HandleMap
from site_gateway.keys import key_fingerprint, load_keys
from tests.site_gateway.conftest import DemoData
from tests.site_gateway.fake_central import PROJECT, SITE, FakeCentral

ROOT = Path(__file__).resolve().parents[2]


def gateway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "site_gateway", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write_config(tmp_path: Path, demo: DemoData, port: int) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'site = "{SITE}"\ncentral_url = "ws://127.0.0.1:{port}"\n'
        f'pacs_url = "folder:{demo.site.folder}"\nstate_dir = "state"\n'
        f'projects = ["{PROJECT}"]\nreconnect_cap_seconds = 1\n'
    )
    return path


async def test_enroll_run_doctor_and_audit_verify(tmp_path: Path, demo: DemoData) -> None:
    config_path = write_config(tmp_path, demo, 9)  # the port is fixed once central is up
    first = await asyncio.to_thread(gateway, "enroll", "--config", str(config_path))
    assert first.returncode == 0, first.stderr
    public = first.stdout.split("central): ")[1].split()[0]
    # the same fingerprint central's site page shows for the registered key
    assert f"same): {key_fingerprint(public)}\n" in first.stdout
    assert "not pinned yet" in first.stdout
    central = FakeCentral(public_key_from_b64(public))
    await central.start()
    config_path = write_config(tmp_path, demo, central.port)
    pinned = await asyncio.to_thread(
        gateway, "enroll", "--config", str(config_path),
        "--central-key", public_key_b64(central.key.public_key()),
    )  # fmt: skip
    assert pinned.returncode == 0 and public in pinned.stdout and "kept" in pinned.stdout

    config = load_config(config_path, env={})
    handles = HandleMap(config.handles_path, HandleKey(load_keys(config).handle_key))
    series = handles.add_series(demo.site.study_uid, demo.site.series_uid)
    handles.close()

    doctor = await asyncio.to_thread(gateway, "doctor", "--config", str(config_path))
    assert doctor.returncode == 0, doctor.stdout
    assert "[ok  ] central: authenticated" in doctor.stdout
    assert "[ok  ] PACS echo" in doctor.stdout and "[ok  ] key enrollment" in doctor.stdout

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "site_gateway", "run", "--config", str(config_path),
        cwd=ROOT,
        env={**os.environ, "RHINO_GW_HEARTBEAT_SECONDS": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        session = str(uuid.uuid4())
        link = await central.open_session(session, [series])
        header, image = await link.request_frame(series, 4, quality="preview")
        assert header["index"] == 4 and image[:2] == b"\xff\xd8"
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, _ = await asyncio.wait_for(process.communicate(), 30)
        output = stdout.decode()
        await central.stop()
    assert process.returncode == 0, output
    assert "control link up" in output

    verified = await asyncio.to_thread(gateway, "audit-verify", "--config", str(config_path))
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout
    db = sqlite3.connect(config.audit_path)
    db.executescript("DROP TRIGGER audit_no_update;")
    db.execute("UPDATE audit SET entry = replace(entry, '\"index\":4', '\"index\":5')")
    db.commit()
    db.close()
    broken = await asyncio.to_thread(gateway, "audit-verify", "--config", str(config_path))
    assert broken.returncode == 1 and "BROKEN at entry" in broken.stdout

    down = await asyncio.to_thread(gateway, "doctor", "--config", str(config_path))
    assert down.returncode == 1 and "[FAIL] central" in down.stdout and "hint:" in down.stdout
