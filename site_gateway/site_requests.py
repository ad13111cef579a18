"""Site requests: central asks, over the control link, on a lead's behalf; the gateway answers.

Every request (``browse.query``, ``browse.thumbnail``, ``selection.write``, ``selection.withdraw``,
``agreement.query``, ``labels.query``) carries a ``request`` id and a site-request grant signed by central
(``grants.verify_site_request``).
Nothing is done before the grant checks out: central's signature, validity, this site, the request
id it is bound to, single use, the act the request needs, and the site's own policy (the projects
it serves). Each request writes one site-audit entry, refused ones included.

Each request runs as its own task (a slow PACS query never holds up attach or revoke on the
control link), at most ``max_concurrent`` at a time; past ``max_pending`` waiting, a request is
answered ``busy`` at once. The reply goes back on the control link with the same ``request`` id:
the request's reply type, or an ``error`` with a stable code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from imaging.handles import HandleKind
from site_gateway.agreement import AgreementError, agreement_for, label_counts
from site_gateway.browse import SeriesBrowser, parse_browse_query, parse_thumbnail_options
from site_gateway.grants import GrantError, ReplayGuard, SiteRequestGrant, verify_site_request
from site_gateway.labels.document import LabelInvalidError
from site_gateway.labels.service import LabelService
from site_gateway.labels.store import selection_subject
from site_gateway.protocol import (
    SITE_REQUESTS,
    ErrorCode,
    LabelState,
    MessageType,
    ProtocolError,
    request_id_of,
    require_handle,
)
from site_gateway.series_source import RequestError
from site_gateway.site_audit import SiteAudit

log = logging.getLogger("site_gateway.site_requests")

SITE_REQUEST_AUDIT: Final = "site.request"
MAX_SELECTION_SERIES: Final = 500
# How long a selection.write (selection.withdraw) waits for its KOS (rejection notes) to reach the
# PACS before it answers "saved at site"; the final state follows as a second selection.written
# (selection.withdrawn) with the same request id.
SELECTION_WAIT_SECONDS: Final = 5.0
SELECTION_FOLLOW_SECONDS: Final = 600.0

Sender = Callable[[Mapping[str, Any]], Awaitable[bool]]


class RequestRefusedError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _error(request: str | None, code: ErrorCode, message: str) -> dict[str, Any]:
    reply: dict[str, Any] = {"type": MessageType.ERROR, "code": code, "message": message}
    if request is not None:
        reply["request"] = request
    return reply


class SiteRequests:
    def __init__(
        self,
        *,
        site: str,
        central_key: Ed25519PublicKey,
        serves_project: Callable[[str], bool],
        browser: SeriesBrowser,
        labels: LabelService,
        audit: SiteAudit,
        send: Sender,
        max_concurrent: int = 4,
        max_pending: int = 64,
        clock: Callable[[], float] = time.time,
        replay: ReplayGuard | None = None,
    ) -> None:
        self._site = site
        self._central_key = central_key
        self._serves_project = serves_project
        self.browser = browser
        self.labels = labels
        self._audit = audit
        self._send = send
        self._slots = asyncio.Semaphore(max_concurrent)
        self._max_pending = max_pending
        self._clock = clock
        self._replay = replay or ReplayGuard()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the control link's entry point ------------------------------------------------------

    def submit(self, message: dict[str, Any]) -> None:
        """Start serving one request (never blocks the control link)."""
        if len(self._tasks) >= self._max_pending:
            reply = _error(request_id_of(message), ErrorCode.BUSY, "too many requests; retry")
            self._spawn(self._send_reply(reply))
            return
        self._spawn(self._serve(message))

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, message: dict[str, Any]) -> None:
        async with self._slots:
            reply = await self.handle(message)
        await self._send_reply(reply)

    async def _send_reply(self, reply: Mapping[str, Any]) -> None:
        if not await self._send(reply):
            log.warning("reply to request %s lost: control link down", reply.get("request"))

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- one request -------------------------------------------------------------------------

    def check(self, message: Mapping[str, Any]) -> SiteRequestGrant:
        """The request's grant, checked; ``RequestRefusedError`` otherwise."""
        request = request_id_of(message)
        if request is None:
            raise RequestRefusedError(ErrorCode.BAD_MESSAGE, "a site request needs a 'request' id")
        act, _ = SITE_REQUESTS[message["type"]]
        try:
            grant = verify_site_request(
                message.get("grant"),
                central_key=self._central_key,
                site=self._site,
                request=request,
                replay=self._replay,
                now=self._clock(),
            )
        except GrantError as exc:
            raise RequestRefusedError(exc.code, exc.message) from None
        if not grant.allows(act):
            raise RequestRefusedError(ErrorCode.NOT_ALLOWED, f"the grant does not allow {act}")
        if not self._serves_project(grant.project):
            raise RequestRefusedError(
                ErrorCode.POLICY_REFUSED, "this site does not serve that project"
            )
        return grant

    async def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        """Check, serve and audit one request; returns the reply (never raises for bad input)."""
        kind = message["type"]
        request = request_id_of(message)
        try:
            grant = self.check(message)
        except RequestRefusedError as exc:
            log.warning("site request %s refused: %s", kind, exc.code)
            await self._audit.record_now(
                SITE_REQUEST_AUDIT, request=request, type=kind, outcome="refused", code=exc.code
            )
            return _error(request, exc.code, exc.message)
        assert request is not None
        _, reply_type = SITE_REQUESTS[kind]
        entry: dict[str, Any] = {
            "request": request, "type": kind, "user": grant.user, "role": grant.role,
            "project": grant.project, "grant": grant.nonce,
        }  # fmt: skip
        try:
            body, detail = await self._dispatch(kind, grant, message)
        except (RequestError, RequestRefusedError, ProtocolError) as exc:
            await self._audit.record_now(
                SITE_REQUEST_AUDIT, **entry, outcome="failed", code=exc.code
            )
            return _error(request, exc.code, exc.message)
        except LabelInvalidError as exc:
            await self._audit.record_now(
                SITE_REQUEST_AUDIT, **entry, outcome="failed", code=exc.code
            )
            return _error(request, exc.code, exc.message)
        except Exception:
            log.exception("site request %s failed", kind)
            await self._audit.record_now(
                SITE_REQUEST_AUDIT, **entry, outcome="failed", code=ErrorCode.INTERNAL
            )
            return _error(request, ErrorCode.INTERNAL, "the site could not serve the request")
        await self._audit.record_now(SITE_REQUEST_AUDIT, **entry, outcome="ok", **detail)
        return {"type": reply_type, "request": request, **body}

    async def _dispatch(
        self, kind: str, grant: SiteRequestGrant, message: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(reply body, what the site audit records of it: handles and counts, never PHI)."""
        if kind == MessageType.BROWSE_QUERY:
            query = parse_browse_query(message.get("query"))
            found = await self.browser.query(query)
            detail = {
                "query": {k: v for k, v in vars_of(query).items() if v not in (None, 0)},
                "studies": len(found["studies"]),
            }
            return found, detail
        if kind == MessageType.BROWSE_THUMBNAIL:
            series = require_handle(message, "series", HandleKind.SERIES)
            index, size = parse_thumbnail_options(message)
            found = await self.browser.thumbnail(series, index=index, size=size)
            return found, {"series": [series], "index": found["index"], "size": size}
        if kind == MessageType.SELECTION_WRITE:
            return await self._selection_write(grant, message)
        if kind == MessageType.SELECTION_WITHDRAW:
            return await self._selection_withdraw(grant, message)
        if kind == MessageType.AGREEMENT_QUERY:
            series = require_handle(message, "series", HandleKind.SERIES)
            tasks = message.get("tasks")
            try:
                result = await asyncio.to_thread(
                    agreement_for, self.labels.store, project=grant.project, tasks=tasks
                )
            except AgreementError as exc:
                raise RequestRefusedError(exc.code, exc.message) from None
            return {"series": series, **result}, {"series": [series], "tasks": tasks}
        if kind == MessageType.LABELS_QUERY:
            tasks = message.get("tasks")
            try:
                counted = await asyncio.to_thread(
                    label_counts, self.labels.store, project=grant.project, tasks=tasks
                )
            except AgreementError as exc:
                raise RequestRefusedError(exc.code, exc.message) from None
            return counted, {"tasks": len(counted["tasks"])}
        raise RequestRefusedError(ErrorCode.UNKNOWN_TYPE, f"{kind} is not a site request")

    # -- selection.write ---------------------------------------------------------------------

    async def _selection_write(
        self, grant: SiteRequestGrant, message: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Write the selection; a refusal is answered as ``selection.written`` with state
        ``failed`` and its code, so that central can mark exactly those selections."""
        series: list[str] = []
        decision = message.get("decision")
        try:
            series = _series_of(message)
            reason = message.get("reason")
            if not isinstance(reason, dict) or not isinstance(decision, str):
                raise ProtocolError(
                    ErrorCode.BAD_MESSAGE, "selection.write needs decision and reason"
                )
            code = reason.get("code")
            revision = await self.labels.select_series(
                project=grant.project,
                lead=grant.user,
                series=series,
                decision=decision,
                text=str(reason.get("text", ""))[:1024],
                code=code if isinstance(code, dict) else None,
            )
        except (ProtocolError, LabelInvalidError) as exc:
            failed = {
                "project": grant.project, "series": series, "decision": str(decision)[:16],
                "state": LabelState.FAILED.value, "code": exc.code, "message": exc.message,
            }  # fmt: skip
            return failed, {"series": series, "code": exc.code}
        body = await self._selection_answer(
            MessageType.SELECTION_WRITTEN, message, revision.revision,
            {"project": grant.project, "series": series, "decision": decision},
        )  # fmt: skip
        return body, {"series": series, "decision": decision, "revision": revision.revision}

    # -- selection.withdraw ------------------------------------------------------------------

    async def _selection_withdraw(
        self, grant: SiteRequestGrant, message: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Withdraw the grant's project's selection of these series: their KOS are rejected
        (IHE IOCM) and the other series those KOS listed re-issued (``labels/selections.py``).
        Answered ``selection.withdrawn``; a refusal (``bad_message``, ``not_found`` for a series
        no selection of the project at this site listed) is state ``failed`` with its code, and
        nothing is written."""
        series: list[str] = []
        try:
            series = _series_of(message)
            revision = await self.labels.withdraw_series(
                project=grant.project, lead=grant.user, series=series
            )
        except (ProtocolError, LabelInvalidError) as exc:
            failed = {
                "project": grant.project, "series": series, "state": LabelState.FAILED.value,
                "code": exc.code, "message": exc.message,
            }  # fmt: skip
            return failed, {"series": series, "code": exc.code}
        body = await self._selection_answer(
            MessageType.SELECTION_WITHDRAWN, message, revision.revision,
            {"project": grant.project, "series": series},
        )  # fmt: skip
        return body, {"series": series, "withdrawn": True, "revision": revision.revision}

    async def _selection_answer(
        self, reply_type: MessageType, message: Mapping[str, Any], revision: int,
        body: dict[str, Any],
    ) -> dict[str, Any]:  # fmt: skip
        """The answer to a selection request: ``body`` with the revision and its state after up to
        SELECTION_WAIT_SECONDS; if its objects are still on their way to the PACS, a second
        answer of ``reply_type`` follows with the final state (``_follow_selection``)."""
        state = await self._selection_state(body["project"], revision, SELECTION_WAIT_SECONDS)
        body = {**body, "revision": revision, "state": state.value}
        if state is LabelState.SAVED_AT_SITE:
            self._spawn(self._follow_selection(reply_type, dict(body), request_id_of(message)))
        return body

    async def _selection_state(self, project: str, revision: int, wait: float) -> LabelState:
        deadline = time.monotonic() + wait
        subject = selection_subject(project)
        while True:
            found = await asyncio.to_thread(self.labels.store.revision, subject, revision)
            if found.state is not LabelState.SAVED_AT_SITE or time.monotonic() >= deadline:
                return found.state
            await asyncio.sleep(0.1)

    async def _follow_selection(
        self, reply_type: MessageType, body: dict[str, Any], request: str | None
    ) -> None:
        """Tell central the final state of a KOS (or rejection note) still on its way to the
        PACS."""
        with contextlib.suppress(asyncio.CancelledError):
            state = await self._selection_state(
                body["project"], body["revision"], SELECTION_FOLLOW_SECONDS
            )
            if state is not LabelState.SAVED_AT_SITE:
                await self._send_reply(
                    {"type": reply_type, "request": request, **body, "state": state.value}
                )  # fmt: skip


def _series_of(message: Mapping[str, Any]) -> list[str]:
    """The request's ``series``: 1…MAX_SELECTION_SERIES series handles (``bad_message``)."""
    raw = message.get("series")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SELECTION_SERIES:
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"series is a list of 1…{MAX_SELECTION_SERIES} handles"
        )
    return [require_handle({"s": h}, "s", HandleKind.SERIES) for h in raw]


def vars_of(query: object) -> dict[str, Any]:
    return {name: getattr(query, name) for name in getattr(query, "__slots__", ())}
