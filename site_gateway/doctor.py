"""``python -m site_gateway doctor``: check what the gateway depends on and say what is wrong.

Each check is an async callable returning a ``CheckResult``; the report lists them in order and
the exit status is non-zero if any failed. Today: the PACS. Config-based checks (central
reachability, key enrollment) are further entries in the same list.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from site_gateway.pacs import Pacs, PacsError, StudyQuery, open_pacs


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float = 0.0
    hint: str = ""


Check = Callable[[], Awaitable[list[CheckResult]]]

_HINTS = {
    "unreachable": "is the PACS running, and are host and port right? is a firewall in the way?",
    "association_rejected": "check the called AE title, and that the PACS knows our calling AE "
    "title, host and port (its list of DICOM modalities)",
    "timeout": "the PACS accepted the connection but did not answer: overloaded, or a proxy?",
    "failure_status": "the PACS refused the request: see its log for the reason",
    "bad_url": "URLs look like dimse://PACS_AE@host:104?calling=OUR_AE, "
    "dicomweb+https://host/dicom-web or folder:/path/to/dicom",
    "not_found": "the PACS answered but found nothing",
}


async def _timed(name: str, action: Callable[[], Awaitable[str]]) -> CheckResult:
    started = time.monotonic()
    try:
        detail = await action()
    except PacsError as exc:
        return CheckResult(
            name, False, exc.message, time.monotonic() - started, _HINTS.get(exc.code, "")
        )
    return CheckResult(name, True, detail, time.monotonic() - started)


def pacs_checks(url: str) -> Check:
    """Connectivity (C-ECHO / a QIDO query / the folder), then a sample query."""

    async def run() -> list[CheckResult]:
        try:
            pacs: Pacs = open_pacs(url)
        except PacsError as exc:
            return [CheckResult("PACS URL", False, exc.message, hint=_HINTS.get(exc.code, ""))]
        results: list[CheckResult] = []
        try:

            async def echo() -> str:
                await pacs.echo()
                return "answers"

            async def sample() -> str:
                # Counts only: the doctor's output may be pasted into a ticket, so no
                # identifiers or names of patients or studies are printed.
                studies = await pacs.find_studies(StudyQuery(limit=5))
                if not studies:
                    return "answers; the PACS holds no study (or none we may see)"
                series = await pacs.find_series(studies[0].study_uid)
                return (
                    f"{len(studies)} studies in a sample of 5; the first has {len(series)} series"
                )

            results.append(await _timed("PACS echo", echo))
            if results[-1].ok:
                results.append(await _timed("PACS query", sample))
        finally:
            await pacs.aclose()
        return results

    return run


async def run_checks(checks: Sequence[Check]) -> list[CheckResult]:
    results: list[CheckResult] = []
    for check in checks:
        results.extend(await check())
    return results


def format_report(results: Sequence[CheckResult]) -> str:
    lines = []
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        lines.append(f"[{mark}] {result.name}: {result.detail} ({result.seconds * 1000:.0f} ms)")
        if result.hint:
            lines.append(f"       hint: {result.hint}")
    failed = sum(not r.ok for r in results)
    lines.append("all checks passed" if not failed else f"{failed} check(s) failed")
    return "\n".join(lines)
