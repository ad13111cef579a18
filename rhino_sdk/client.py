"""``RhinoClient``: the REST API over ``requests`` with token authentication."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests

from rhino_sdk.errors import RhinoError
from rhino_sdk.models import (
    BulkResult,
    Progress,
    Project,
    Selection,
    SelectionReason,
    Site,
    Task,
)

Ref = int | Any  # an id, or any SDK object with an ``id``

MAX_PAGES = 1000  # a guard against a server that never stops paging


def _id(ref: Ref) -> int:
    value = ref if isinstance(ref, int) else getattr(ref, "id", None)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an id or an object with an integer id, got {ref!r}")
    return value


class RhinoClient:
    """A signed-in client. ``base_url`` is the server's root, e.g. ``https://rhino.example``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"base_url must be http(s)://host[:port], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = session or requests.Session()
        self._http.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})

    @classmethod
    def login(
        cls,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> RhinoClient:
        """Exchange a username and password for the user's API token (audited, rate-limited)."""
        http = session or requests.Session()
        data = _answer(
            lambda: http.post(
                f"{base_url.rstrip('/')}/api/auth/token/",
                json={"username": username, "password": password},
                timeout=timeout,
            )
        )
        return cls(base_url, data["token"], timeout=timeout, session=http)

    def close(self) -> None:
        """Close the pooled connections (also on leaving a ``with`` block)."""
        self._http.close()

    def __enter__(self) -> RhinoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ---

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        return _answer(lambda: self._http.request(method, url, timeout=self.timeout, **kwargs))

    def _get_all(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a cursor-paginated list (or of a plain list)."""
        data = self._request("GET", path, params={**(params or {}), "page_size": 200})
        if isinstance(data, list):
            return data
        items: list[dict[str, Any]] = list(data["results"])
        pages = 1
        while data.get("next"):
            if pages >= MAX_PAGES:
                raise RhinoError("bad_response", f"more than {MAX_PAGES} pages from {path}")
            next_url = data["next"]
            if urlsplit(next_url).netloc != urlsplit(self.base_url).netloc:
                raise RhinoError("bad_response", "the next page is on another host; refused")
            data = self._request("GET", next_url)
            items.extend(data["results"])
            pages += 1
        return items

    # --- reading ---

    def me(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/api/me/")
        return result

    def sites(self) -> list[Site]:
        """The sites this user may see (for a lead: their projects' sites)."""
        return [Site.from_api(s) for s in self._get_all("/api/sites/")]

    def projects(self) -> list[Project]:
        return [Project.from_api(p) for p in self._get_all("/api/projects/")]

    def tasks(
        self,
        project: Ref | None = None,
        status: str | None = None,
        *,
        site: Ref | None = None,
        assignee: Ref | None = None,
    ) -> list[Task]:
        params: dict[str, Any] = {}
        if project is not None:
            params["project"] = _id(project)
        if status is not None:
            params["status"] = status
        if site is not None:
            params["site"] = _id(site)
        if assignee is not None:
            params["assignee"] = _id(assignee)
        return [Task.from_api(t) for t in self._get_all("/api/tasks/", params)]

    def task(self, task: Ref) -> Task:
        return Task.from_api(self._request("GET", f"/api/tasks/{_id(task)}/"))

    def selection_reasons(self) -> list[SelectionReason]:
        return [SelectionReason.from_api(r) for r in self._get_all("/api/selection-reasons/")]

    def selections(self, project: Ref, decision: str | None = None) -> list[Selection]:
        params = {"decision": decision} if decision else {}
        path = f"/api/projects/{_id(project)}/selections/"
        return [Selection.from_api(s) for s in self._get_all(path, params)]

    def progress(self, project: Ref) -> Progress:
        return Progress.from_api(self._request("GET", f"/api/projects/{_id(project)}/progress/"))

    def follow_progress(
        self,
        project: Ref,
        interval: float = 30.0,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[Progress]:
        """Yield the project's progress now and then whenever it changes (polled every
        ``interval`` seconds). Endless: stop iterating when you have seen enough."""
        last: dict[str, Any] | None = None
        while True:
            current = self.progress(project)
            if current.raw != last:
                last = current.raw
                yield current
            sleep(interval)

    # --- changing ---

    def select_series(
        self,
        project: Ref,
        site: Ref,
        study_handle: str,
        series_handle: str,
        decision: str = "include",
        reason: str = "for_annotation",
    ) -> Selection:
        """Include (or exclude) a series, with a reason key from ``selection_reasons()``."""
        body = {
            "site": _id(site), "study_handle": study_handle, "series_handle": series_handle,
            "decision": decision, "reason": reason,
        }  # fmt: skip
        path = f"/api/projects/{_id(project)}/selections/"
        return Selection.from_api(self._request("POST", path, json=body))

    def withdraw_selection(self, project: Ref, selection: Ref) -> None:
        self._request("DELETE", f"/api/projects/{_id(project)}/selections/{_id(selection)}/")

    def create_tasks(
        self,
        project: Ref,
        readers: list[Ref],
        label_schema: Ref,
        *,
        selections: list[Ref] | None = None,
        due_date: datetime.date | None = None,
    ) -> BulkResult:
        """One task per (included selection, reader); ``selections=None``: every included one."""
        body: dict[str, Any] = {
            "readers": [_id(r) for r in readers],
            "label_schema": _id(label_schema),
            "due_date": due_date.isoformat() if due_date else None,
        }
        if selections is not None:
            body["selections"] = [_id(s) for s in selections]
        path = f"/api/projects/{_id(project)}/tasks/bulk/"
        return BulkResult.from_api(self._request("POST", path, json=body))

    def assign(self, task: Ref, user: Ref | None) -> Task:
        """Give the task to ``user`` (``None``: to nobody); permissions follow the assignment."""
        body = {"assignee": None if user is None else _id(user)}
        return Task.from_api(self._request("POST", f"/api/tasks/{_id(task)}/assign/", json=body))

    def approve(self, task: Ref, comment: str = "") -> Task:
        return self._decide(task, "approved", comment)

    def reject(self, task: Ref, comment: str) -> Task:
        """Send a submitted task back to its annotator; the comment is required and shown to them."""
        return self._decide(task, "rejected", comment)

    def _decide(self, task: Ref, status: str, comment: str) -> Task:
        body = {"status": status, "comment": comment}
        return Task.from_api(self._request("POST", f"/api/tasks/{_id(task)}/status/", json=body))

    # --- the sites' series (asked live through each site's gateway) ---

    def query_series(
        self, project: Ref, *, site: Ref | None = None, **criteria: Any
    ) -> list[dict[str, Any]]:
        """Each site's answer to a series query, one dict per site of the project (or just
        ``site``): ``{"site", "site_name", "status": "ok"|"offline"|"timeout"|"error", "studies",
        "truncated", "error"}``. Criteria: ``modality``, ``body_part``, ``text``, ``min_images``,
        ``limit`` (≤ 500). Studies and series are keyed by handles; descriptions are cleaned at
        the site. An offline site is a status, not an exception."""
        unknown = set(criteria) - {"modality", "body_part", "text", "min_images", "limit"}
        if unknown:
            raise TypeError(f"unknown criteria: {sorted(unknown)}")
        params = {k: v for k, v in criteria.items() if v is not None}
        if site is not None:
            site_ids = [_id(site)]
        else:
            site_ids = list(self._request("GET", f"/api/projects/{_id(project)}/")["sites"])
        return [
            self._request(
                "GET", f"/api/projects/{_id(project)}/sites/{site_id}/series/", params=params
            )
            for site_id in site_ids
        ]

    def series_thumbnail(
        self,
        project: Ref,
        site: Ref,
        series_handle: str,
        *,
        index: int | None = None,
        size: int | None = None,
    ) -> bytes:
        """The site's JPEG of one slice of the series: the middle one at ≤ 128 px, or slice
        ``index`` (from 0) at ≤ ``size`` px (up to 512) — a read-only check, no labels."""
        url = (
            f"{self.base_url}/api/projects/{_id(project)}/sites/{_id(site)}/series/"
            f"{series_handle}/thumbnail"
        )
        params = {k: v for k, v in (("index", index), ("size", size)) if v is not None}
        try:
            response = self._http.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RhinoError("connection_error", str(exc)) from exc
        with response:
            if response.ok and response.headers.get("Content-Type") == "image/jpeg":
                return response.content
        return _answer(lambda: response)  # type: ignore[no-any-return]  # raises the coded error

    def reader_agreement(self, project: Ref, tasks: list[Ref]) -> dict[str, Any]:
        """Agreement between the readers of one series (Dice per label, classification
        agreement and Cohen's kappa), computed at the site: numbers only."""
        body = {"tasks": [_id(t) for t in tasks]}
        result: dict[str, Any] = self._request(
            "POST", f"/api/projects/{_id(project)}/agreement/", json=body
        )
        return result

    def label_progress(self, project: Ref) -> dict[str, Any]:
        """How many labels of each label the project's readers made, per site and per
        annotator, counted at the sites (``{"project", "labels", "by_site", "by_annotator"}``;
        an offline site is a ``status`` of its ``by_site`` row)."""
        result: dict[str, Any] = self._request(
            "GET", f"/api/projects/{_id(project)}/progress/labels/"
        )
        return result

    # --- accounts (admins; auditors read) ---

    def users(self) -> list[dict[str, Any]]:
        """Every account with its roles and status (``GET /api/users/``; admins and auditors)."""
        return self._get_all("/api/users/")

    def create_user(
        self,
        username: str,
        password: str,
        roles: list[str] | None = None,
        *,
        first_name: str = "",
        last_name: str = "",
        email: str = "",
    ) -> dict[str, Any]:
        """A new account with its roles and an initial password (admins). The password is
        checked by central's validators and never written to the audit log."""
        body = {
            "username": username, "password": password, "roles": roles or [],
            "first_name": first_name, "last_name": last_name, "email": email,
        }  # fmt: skip
        result: dict[str, Any] = self._request("POST", "/api/users/", json=body)
        return result

    def deactivate_user(self, user: Ref, reason: str) -> dict[str, Any]:
        """Stop an account now: sign-in, its API token and its live sessions (admins)."""
        result: dict[str, Any] = self._request(
            "POST", f"/api/users/{_id(user)}/deactivate/", json={"reason": reason}
        )
        return result

    def reactivate_user(self, user: Ref) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", f"/api/users/{_id(user)}/reactivate/")
        return result

    # --- the audit log ---

    def audit_events(
        self, *, max_events: int | None = None, **filters: Any
    ) -> list[dict[str, Any]]:
        """Audit events visible to you, newest first (``GET /api/audit/events/``, paged by seq).

        ``filters`` are the console's: ``actor``, ``action`` (a code or a list of codes),
        ``outcome`` (``success``, ``failure``, ``4``, ``8``, ``12``), ``project``, ``site``,
        ``object`` (``TYPE`` or ``TYPE:ID``), ``since``, ``until`` (ISO 8601, UTC), ``q`` (search),
        and ``before`` / ``after`` (a seq) to start from. Every page read is audited at central.
        ``max_events`` stops early; without it every matching event is fetched."""
        params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
        params.setdefault("limit", 200)
        events: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            data = self._request("GET", "/api/audit/events/", params=params)
            if "after" in params:
                # Forward from a seq: each page is newer than the last; keep newest first.
                events[:0] = data["events"]
                if data.get("newer") is None or (max_events and len(events) >= max_events):
                    return events[-max_events:] if max_events else events
                params["after"] = data["newer"]
            else:
                events.extend(data["events"])
                if max_events is not None and len(events) >= max_events:
                    return events[:max_events]
                if data.get("older") is None:
                    return events
                params["before"] = data["older"]
        raise RhinoError("bad_response", f"more than {MAX_PAGES} pages of audit events")


def _answer(send: Callable[[], requests.Response]) -> Any:
    """The JSON body of a successful answer, or a RhinoError carrying the server's error code."""
    try:
        response = send()
    except requests.RequestException as exc:
        raise RhinoError("connection_error", str(exc)) from exc
    with response:  # back to the pool (or closed) whatever the answer
        if response.status_code == 204:
            return None
        try:
            data = response.json()
        except ValueError:
            raise RhinoError(
                "bad_response", f"not JSON (HTTP {response.status_code})", response.status_code
            ) from None
    if response.ok:
        return data
    error = data.get("error", {}) if isinstance(data, dict) else {}
    raise RhinoError(
        str(error.get("code", "server_error")),
        str(error.get("message", response.reason)),
        response.status_code,
        error.get("fields"),
    )
