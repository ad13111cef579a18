"""The delivery worker: build each outbox row, store it in the PACS, retry, or dead-letter it.

- Classification is the PACS adapter's (``site_gateway.pacs.errors``, PS3.7 Annex C, PS3.4 B.2.3):
  success and warning (0xB000–0xBFFF, 0x0111 duplicate…) are stored; retryable (network, a
  transient A-ASSOCIATE-RJ, 0xA7xx out of resources, 0x0110, 0x0213, timeouts) are retried with
  exponential backoff and full jitter; permanent (0xA9xx, 0xCxxx, a permanent rejection, an object
  the PACS refuses) go to the dead-letter list with the reason, for the site custodian.
- Idempotent on SOP Instance UID: the UID is derived from the revision, the built bytes are kept
  in the row before the first attempt, and every attempt sends those same bytes. A crash between
  the PACS accepting an object and the row being marked stored only means the same object is sent
  again, which a PACS keeps once (PS3.4 B.2.3: the SOP Instance UID identifies the instance).
- Nothing is held in memory that is not in the store first: ``kill -9`` at any point loses
  nothing; on start the worker simply continues with the pending rows.

Time, sleeping and randomness come in through parameters (tests run with millisecond backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pydicom

from imaging.dicom_out import WritebackError
from site_gateway.labels.builder import BuildContext, build_row, encode
from site_gateway.labels.outbox import Outbox, OutboxRow
from site_gateway.labels.store import LabelStore
from site_gateway.pacs import Pacs, PacsError, StatusClass
from site_gateway.protocol import LabelState

log = logging.getLogger("site_gateway.labels.delivery")

StateListener = Callable[[str, int, LabelState, str | None], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 1.0  # seconds; the first retry waits up to this
    cap: float = 300.0  # never wait longer than this between attempts of one object
    store_timeout: float = 120.0  # one C-STORE / STOW-RS of one object
    idle_poll: float = 5.0  # look for work saved by another process at least this often


def backoff_delay(attempt: int, policy: RetryPolicy, rng: Callable[[float, float], float]) -> float:
    """Full jitter: uniform in 0…min(cap, base·2^attempt) (spreads many rows and many sites)."""
    return rng(0.0, min(policy.cap, policy.base * 2 ** min(attempt, 30)))


class DeliveryWorker:
    def __init__(
        self,
        store: LabelStore,
        pacs: Pacs,
        *,
        context: BuildContext,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[float, float], float] = random.uniform,
        on_state: StateListener | None = None,
    ) -> None:
        self.store = store
        self.outbox = Outbox(store.db, store.lock)
        self.pacs = pacs
        self.context = context
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self.on_state = on_state
        self._wake = asyncio.Event()
        self._failing = False
        self.delivered = 0

    def wake(self) -> None:
        """New work was saved: look now rather than at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                waited = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # the worker must outlive any one row's surprise
                log.exception("delivery step failed")
                waited = self.policy.idle_poll
            if waited is not None:
                await self._wait(waited)

    async def run_until_idle(self) -> None:
        """Deliver until nothing is pending (tests, bench); waits through backoff delays."""
        while True:
            waited = await self.step()
            if waited is None:
                continue
            row, _ = self.outbox.next_due(float("inf"))
            if row is None:
                return
            await self._wait(waited)

    async def _wait(self, seconds: float) -> None:
        self._wake.clear()
        # asyncio.timeout, not wait_for: see link.py (a cancellation must not be swallowed).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.0)):
                await self._wake.wait()

    async def step(self) -> float | None:
        """Deliver one due row. None if one was handled, else how long to wait for the next."""
        now = self._clock()
        row, due_at = await asyncio.to_thread(self.outbox.next_due, now)
        if row is None:
            if due_at is None:
                return self.policy.idle_poll
            return min(due_at - now, self.policy.idle_poll)
        await self.deliver(row)
        return None

    async def deliver(self, row: OutboxRow) -> None:
        data = row.data
        if data is None:
            try:
                data = await asyncio.to_thread(self._build, row)
            except WritebackError as exc:
                await self._dead(row, f"build_failed:{exc.code.value}: {exc.message}")
                return
            except Exception as exc:
                # Building is deterministic, so retrying cannot help: any failure to build is this
                # object's, so it goes on the dead-letter list with its reason instead of looping.
                await self._dead(row, f"build_failed:{type(exc).__name__}: {exc}")
                return
        try:
            dataset = pydicom.dcmread(io.BytesIO(data))
            async with asyncio.timeout(self.policy.store_timeout):
                await self.pacs.store(dataset)
        except PacsError as exc:
            if exc.status_class is StatusClass.RETRYABLE:
                await self._retry(row, f"{exc.code}: {exc.message}")
            else:
                status = f" (status 0x{exc.status:04X})" if exc.status is not None else ""
                await self._dead(row, f"{exc.code}{status}: {exc.message}")
            return
        except (TimeoutError, OSError) as exc:
            await self._retry(row, f"{type(exc).__name__}: {exc}")
            return
        now = self._clock()
        await asyncio.to_thread(self.outbox.mark_stored, row.sop_uid, now)
        self.delivered += 1
        if self._failing:
            # The PACS is back: rows waiting out a backoff need not wait any longer.
            self._failing = False
            await asyncio.to_thread(self._release_backoff, now)
        await self._settle(row)

    def _build(self, row: OutboxRow) -> bytes:
        data = encode(build_row(row, self.store, self.context))
        self.outbox.set_data(row.sop_uid, data)
        # Another process may have built it first: send what the row holds, never our copy.
        stored = self.outbox.get(row.sop_uid)
        assert stored is not None
        assert stored.data is not None
        return stored.data

    def _release_backoff(self, now: float) -> None:
        with self.store.lock:
            self.store.db.execute(
                "UPDATE outbox SET next_at = ? WHERE state = 'pending' AND next_at > ?", (now, now)
            )

    async def _retry(self, row: OutboxRow, reason: str) -> None:
        delay = backoff_delay(row.attempts, self.policy, self._rng)
        log.warning("object %s: retry in %.2f s: %s", row.sop_uid, delay, reason)
        await asyncio.to_thread(self.outbox.mark_retry, row.sop_uid, self._clock() + delay, reason)
        self._failing = True
        # The PACS is in trouble: pause everything, not just this row, so 200 queued objects do
        # not each open a connection to a PACS that is down.
        await self._sleep(delay)

    async def _dead(self, row: OutboxRow, reason: str) -> None:
        log.error("object %s: dead letter: %s", row.sop_uid, reason)
        await asyncio.to_thread(self.outbox.mark_dead, row.sop_uid, reason[:1000])
        await self._settle(row)

    async def _settle(self, row: OutboxRow) -> None:
        """Recompute the state of every revision this object belongs to, and tell listeners."""
        for subject, revision in await asyncio.to_thread(self.outbox.revisions_of, row.sop_uid):
            state, reason = await asyncio.to_thread(self.outbox.revision_state, subject, revision)
            changed = await asyncio.to_thread(
                self.store.set_state, subject, revision, state, reason
            )
            if changed and self.on_state is not None:
                try:
                    await self.on_state(subject, revision, state, reason)
                except Exception:
                    log.exception("state listener failed for %s r%d", subject, revision)
