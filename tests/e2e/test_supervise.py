"""`make run`'s supervisor (rhino_web.demo.supervise) stops central and the gateways with it — on
Ctrl-C and on SIGTERM, which is what `kill`, systemd or a container runtime send."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_supervisor_stops_its_children_when_it_is_stopped(tmp_path: Path, sig: int) -> None:
    pid_files = [tmp_path / f"child-{i}.pid" for i in range(2)]
    commands = [[sys.executable, "-c", CHILD, str(path)] for path in pid_files]
    supervisor = subprocess.Popen(
        [sys.executable, "-c", f"import sys; from rhino_web.demo import supervise; sys.exit(supervise({commands!r}))"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        # As a shell starts a background job (`make run &`, CI runners): SIGINT ignored, which
        # Python then does not turn into KeyboardInterrupt, and which the children inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not all(p.exists() and p.read_text() for p in pid_files):
            assert time.monotonic() < deadline, "the children did not start"
            time.sleep(0.05)
        children = [int(p.read_text()) for p in pid_files]
        assert all(_alive(pid) for pid in children)
        supervisor.send_signal(sig)
        supervisor.wait(timeout=20)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in children if _alive(pid)], "a child outlived the supervisor"
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
