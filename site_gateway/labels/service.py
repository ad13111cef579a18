"""The label service: ``label.save`` / ``label.load`` for the sessions, the delivery worker, status
to the viewer (``label.status``) and to central (``task.labels``), and the lead's selections (KOS).

``install()`` plugs the two handlers into ``site_gateway.sessions.LABEL_HANDLERS``; the gateway
starts the worker and the reporter with ``start()``. A save is answered ``label.saved`` only once
its revision is committed to the label store (SQLite, ``synchronous=FULL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from site_gateway.grants import Grant
from site_gateway.labels.builder import BuildContext
from site_gateway.labels.delivery import DeliveryWorker, RetryPolicy
from site_gateway.labels.document import (
    LabelInvalidError,
    LabelLimits,
    validate_document,
)
from site_gateway.labels.readback import load_from_pacs, load_from_store
from site_gateway.labels.sources import SourceError, SourceLookup
from site_gateway.labels.store import LabelConflictError, LabelStore, Revision, task_subject
from site_gateway.pacs import Pacs
from site_gateway.protocol import ErrorCode, LabelState, MessageType
from site_gateway.sessions import LABEL_HANDLERS, Session
from site_gateway.site_audit import AuditKind

log = logging.getLogger("site_gateway.labels")

ControlSender = Callable[[Mapping[str, Any]], Awaitable[bool]]
REPORT_INTERVAL = 5.0  # seconds between attempts to tell central what it has not heard yet


def public_reason(reason: str) -> str:
    """The code part of a dead letter's reason (``failure_status (status 0xA900)``,
    ``build_failed:out_of_bounds``): what may cross central. The rest can name UIDs or AE titles,
    which stay at the site (``python -m site_gateway dead-letters``)."""
    return reason.split(": ", 1)[0][:120]


def _seq(message: Mapping[str, Any]) -> int | None:
    seq = message.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


class LabelService:
    def __init__(
        self,
        store: LabelStore,
        pacs: Pacs,
        lookup: SourceLookup,
        *,
        policy: RetryPolicy | None = None,
        limits: LabelLimits | None = None,
        send_control: ControlSender | None = None,
        link_generation: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.time,
        run_worker: bool = True,
    ) -> None:
        self.store = store
        self.pacs = pacs
        self.lookup = lookup
        self.limits = limits or LabelLimits()
        self.send_control = send_control
        # Bumps on every (re)connect of the control link: a new central connection may have
        # missed reports sent just before the old one dropped, so everything is told again.
        self._link_generation = link_generation
        self._generation: int | None = None
        self._clock = clock
        self._run_worker = run_worker
        self.worker = DeliveryWorker(
            store, pacs, context=BuildContext(store.site), policy=policy, clock=clock,
            on_state=self._on_state,
        )  # fmt: skip
        self._sessions: dict[int, set[Session]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._report = asyncio.Event()

    @classmethod
    def open(
        cls, path: Path, *, site: str, pacs: Pacs, lookup: SourceLookup, **kwargs: Any
    ) -> LabelService:
        return cls(LabelStore(path, site=site), pacs, lookup, **kwargs)

    def install(self) -> None:
        """Serve ``label.save`` and ``label.load`` in every session from now on."""
        LABEL_HANDLERS[MessageType.LABEL_SAVE] = self.label_save
        LABEL_HANDLERS[MessageType.LABEL_LOAD] = self.label_load

    async def start(self) -> None:
        if self._run_worker:
            self._tasks.append(
                asyncio.create_task(self.worker.run_forever(), name="label-delivery")
            )
        self._tasks.append(asyncio.create_task(self._reporter(), name="label-reports"))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.store.close()

    def status(self) -> dict[str, Any]:
        """The heartbeat's ``outbox``: counts only."""
        return self.worker.outbox.summary(self._clock())

    # -- label.save ----------------------------------------------------------------------------

    async def label_save(self, session: Session, message: Mapping[str, Any]) -> None:
        seq = _seq(message)
        self._watch(session)
        try:
            revision = await self.save(session.grant, message.get("document"))
        except LabelInvalidError as exc:
            await self._send_error(session, exc.code, exc.message, seq, detail=exc.detail)
            return
        except LabelConflictError as exc:
            await self._send_error(
                session, ErrorCode.LABEL_CONFLICT, f"revision {exc.latest} was saved since", seq
            )
            return
        except Exception:
            # The labels' one translation point to the wire: the save was not acknowledged, so
            # the viewer keeps its copy and says "not saved" (disk full, store locked…).
            log.exception("label.save of task %s failed", session.grant.task)
            await self._send_error(session, ErrorCode.INTERNAL, "the site could not store", seq)
            return
        await self._audit_written(session, revision)
        await session.send_json(
            {"type": MessageType.LABEL_SAVED, "seq": seq, "revision": revision.revision}
        )
        if revision.state is not LabelState.SAVED_AT_SITE:
            await self._status(session, revision.revision, revision.state, revision.reason)

    async def save(self, grant: Grant, document: object) -> Revision:
        """Validate, commit, wake the worker; returns the committed revision."""
        validated = await validate_document(
            document, grant=grant, lookup=self.lookup, limits=self.limits
        )
        revision = await asyncio.to_thread(
            self.store.save_task_labels,
            validated,
            user=grant.user,
            role=grant.role,
            project=grant.project,
            schema=grant.schema,
            saved_at=self._clock(),
        )
        # A revision whose objects are all already stored (or that has none) is settled now.
        state, reason = await asyncio.to_thread(
            self.worker.outbox.revision_state, revision.subject, revision.revision
        )
        if state is not LabelState.SAVED_AT_SITE:
            await asyncio.to_thread(
                self.store.set_state, revision.subject, revision.revision, state, reason
            )
            revision = await asyncio.to_thread(
                self.store.revision, revision.subject, revision.revision
            )
        self.worker.wake()
        self._report.set()
        return revision

    # -- label.load ----------------------------------------------------------------------------

    @staticmethod
    async def _audit_written(session: Session, revision: Revision) -> None:
        """One site-audit entry per committed revision: who wrote which task's labels, with the
        content hash that ties the entry to the stored document (never the content itself)."""
        try:
            await session.services.audit.record_now(
                AuditKind.LABEL_WRITTEN,
                session=session.id,
                user=session.grant.user,
                grant=session.grant.nonce,
                task=session.grant.task,
                revision=revision.revision,
                annotations=revision.count,
                content_hash=revision.content_hash,
            )
        except Exception:
            # The revision is durable already; refusing the acknowledgement now would make the
            # viewer save again. The failure is loud in the site's log instead.
            log.exception(
                "site audit of task %s revision %s failed", revision.task, revision.revision
            )

    async def label_load(self, session: Session, message: Mapping[str, Any]) -> None:
        seq = _seq(message)
        self._watch(session)
        try:
            found = await self.load(session.grant)
        except Exception:
            log.exception("label.load of task %s failed", session.grant.task)
            await self._send_error(session, ErrorCode.INTERNAL, "the site could not load", seq)
            return
        if found is None:
            await self._send_error(session, ErrorCode.NOT_FOUND, "no labels saved yet", seq)
            return
        document, revision = found
        await session.send_json(
            {"type": MessageType.LABEL_DOCUMENT, "seq": seq, "document": document,
             "revision": revision}
        )  # fmt: skip
        # Where that revision stands, so a reopened task says "Stored in PACS" (or the failure)
        # rather than only "Saved at site". A document read back from the PACS is stored there.
        latest = await asyncio.to_thread(self.store.latest, task_subject(session.grant.task))
        if latest is not None and latest.revision == revision:
            await self._status(session, revision, latest.state, latest.reason)
        else:
            await self._status(session, revision, LabelState.STORED_IN_PACS, None)

    async def load(self, grant: Grant) -> tuple[dict[str, Any], int] | None:
        found = await asyncio.to_thread(load_from_store, self.store, grant)
        if found is None:
            found = await load_from_pacs(self.pacs, self.lookup, grant, site=self.store.site)
        return found

    # -- status to sessions and central --------------------------------------------------------

    def _watch(self, session: Session) -> None:
        self._sessions.setdefault(session.grant.task, set()).add(session)

    async def _on_state(
        self, subject: str, revision: int, state: LabelState, reason: str | None
    ) -> None:
        if subject.startswith("task/"):
            task = int(subject.removeprefix("task/"))
            sessions = self._sessions.get(task, set())
            for session in list(sessions):
                if session.closed:
                    sessions.discard(session)
                else:
                    await self._status(session, revision, state, reason)
        self._report.set()

    async def _status(
        self, session: Session, revision: int, state: LabelState, reason: str | None
    ) -> None:
        message: dict[str, Any] = {
            "type": MessageType.LABEL_STATUS,
            "revision": revision,
            "state": state.value,
        }
        if reason is not None:
            message["reason"] = public_reason(reason)
        await session.send_json(message)

    async def _send_error(
        self, session: Session, code: ErrorCode, text: str, seq: int | None, *, detail: str = ""
    ) -> None:
        reply: dict[str, Any] = {"type": MessageType.ERROR, "code": code, "message": text}
        if detail:
            reply["detail"] = detail
        if seq is not None:
            reply["seq"] = seq
        await session.send_json(reply)

    async def report_pending(self) -> int:
        """Send ``task.labels`` for every task whose latest state central has not heard."""
        if self.send_control is None:
            return 0
        if self._link_generation is not None:
            generation = self._link_generation()
            if generation != self._generation:
                self._generation = generation
                await asyncio.to_thread(self.store.forget_reports)
        sent = 0
        for revision in await asyncio.to_thread(self.store.unreported):
            assert revision.task is not None
            message = {
                "type": MessageType.TASK_LABELS,
                "task": revision.task,
                "revision": revision.revision,
                "state": revision.state.value,
                "count": revision.count,
                "content_hash": revision.content_hash,
            }
            if not await self.send_control(message):
                break  # the link is down; the next round tries again
            await asyncio.to_thread(
                self.store.mark_reported, revision.subject, revision.revision, revision.state
            )
            sent += 1
        return sent

    async def _reporter(self) -> None:
        while True:
            self._report.clear()
            try:
                await self.report_pending()
            except Exception:
                log.exception("reporting label states to central failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REPORT_INTERVAL):
                    await self._report.wait()

    # -- the lead's series selections (KOS) ----------------------------------------------------

    async def select_series(
        self,
        *,
        project: str,
        lead: str,
        series: Sequence[str],
        decision: str,
        text: str,
        code: Mapping[str, str] | None = None,
    ) -> Revision:
        """Record the lead's selection at the site and queue its Key Object Selection document(s).

        ``series`` are series handles; ``code`` is an optional coded reason
        ``{"value", "scheme", "meaning"}``. One KOS per study and reason (TID 2010 lists one
        study's instances); earlier KOS listing these series with another decision or reason are
        retired (``selections.py``). Raises ``LabelInvalidError`` for an unknown series or a bad
        reason.
        """
        from imaging.dicom_out import Concept, SelectionReason, WritebackError

        try:
            SelectionReason(
                decision,  # type: ignore[arg-type]  # validated by the dataclass
                text,
                None if code is None else Concept(code["value"], code["scheme"], code["meaning"]),
            )
        except (WritebackError, KeyError) as exc:
            raise LabelInvalidError(
                "bad_reason", f"the selection reason is invalid: {exc}"
            ) from None
        if not series or len(set(series)) != len(series):
            raise LabelInvalidError("malformed", "select one or more distinct series")
        reason = {"decision": decision, "text": text, "code": dict(code) if code else None}
        items: list[dict[str, Any]] = []
        headers: dict[str, Any] = {}
        try:
            for handle in series:
                found = await self.lookup.series_instances(handle)
                first = await self.lookup.frame(handle, 0)
                headers[first.sop_uid] = first.header
                items.append(
                    {
                        "handle": handle,
                        "study_uid": found.study_uid,
                        "series_uid": found.series_uid,
                        "study_sop": first.sop_uid,
                        "instances": [list(i) for i in found.instances],
                        "reason": reason,
                    }
                )
        except SourceError as exc:
            raise LabelInvalidError(exc.detail, exc.message, code=ErrorCode.NOT_FOUND) from None
        revision = await asyncio.to_thread(
            self.store.save_selection,
            project=project,
            lead=lead,
            series=items,
            headers=headers,
            saved_at=self._clock(),
        )
        revision = await self._settle(revision)
        self.worker.wake()
        return revision

    async def withdraw_series(self, *, project: str, lead: str, series: Sequence[str]) -> Revision:
        """Withdraw the lead's selection of ``series`` (handles) at the site: every KOS of the
        project listing one of them is rejected and the other series they listed re-issued
        (``selections.supersede``). Needs neither the PACS nor the cache. Raises
        ``LabelInvalidError`` for a repeated handle or one no selection of the project listed."""
        if not series or len(set(series)) != len(series):
            raise LabelInvalidError("malformed", "withdraw one or more distinct series")
        revision = await asyncio.to_thread(
            self.store.save_selection,
            project=project,
            lead=lead,
            withdrawn=list(series),
            saved_at=self._clock(),
        )
        revision = await self._settle(revision)
        self.worker.wake()
        return revision

    async def _settle(self, revision: Revision) -> Revision:
        """A selection revision whose objects are all stored already (a repeated withdrawal, a
        selection made again) has its final state now: no delivery will touch it."""
        state, reason = await asyncio.to_thread(
            self.worker.outbox.revision_state, revision.subject, revision.revision
        )
        if state is LabelState.SAVED_AT_SITE:
            return revision
        await asyncio.to_thread(
            self.store.set_state, revision.subject, revision.revision, state, reason
        )
        return await asyncio.to_thread(self.store.revision, revision.subject, revision.revision)
