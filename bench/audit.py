"""Audit console at scale: filtered pages and chain verification over 10^6 events (issue 9).

    python bench/audit.py [--events 1000000] [--regenerate] [--database-url URL]

Uses PostgreSQL by default (database ``rhino_bench_audit`` on 127.0.0.1, created if missing, kept
between runs so that a second run skips the load); ``--database-url sqlite:///PATH`` for SQLite.
Events form a valid HMAC chain (the product's ``canonical_content``/``chain_mac``) and are loaded
with COPY. Each scenario is the console's own query (visibility + filter + keyset page), timed as
the median of several runs after one warm-up; then whole page views through the Django test client
(rendering and the audit.read event included), then ``audit_verify_chain()`` once.
Targets: filtered page < 300 ms, verification < 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://root@127.0.0.1:5432/rhino_bench_audit"


def _prepare_environment(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault(
        "RHINO_AUDIT_HEAD_FILE", str(Path(tempfile.gettempdir()) / "rhino-bench-audit-head")
    )
    if url.startswith("postgres"):
        import psycopg

        dbname = url.rsplit("/", 1)[1]
        admin_url = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{dbname}"')


ACTIONS = [
    ("task.status_change", 30), ("user.login", 15), ("audit.read", 8), ("task.create", 8),
    ("task.assign", 8), ("user.logout", 6), ("project.member_add", 4), ("access.denied", 3),
    ("user.login_failed", 3), ("site.permission_grant", 2), ("project.update", 2),
    ("user.roles_change", 1), ("project.lead_add", 1), ("site.update", 1), ("audit.export", 1),
]  # fmt: skip


def generate(count: int, seed: int = 9) -> None:
    """Replace the audit table with ``count`` chained events spread over the last year."""
    from django.db import connection

    from annotations.models import AuditChainHead, AuditEvent
    from annotations.services.audit import GENESIS_MAC, canonical_content, chain_mac, publish_head

    rng = random.Random(seed)
    names, weights = zip(*ACTIONS, strict=True)
    users = [(i, f"user{i:03d}") for i in range(1, 301)]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    step = dt.timedelta(days=365) / count
    table = AuditEvent._meta.db_table
    columns = [
        "seq", "occurred_at", "actor_id", "actor_name", "action", "outcome", "object_type",
        "object_id", "project_id", "site_id", "source_address", "detail", "prev_mac", "mac",
    ]  # fmt: skip
    prev = GENESIS_MAC
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {table}")  # the append-only trigger refuses DELETE
        else:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (model table name)
    rows: list[tuple[Any, ...]] = []

    def flush() -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                    rows,
                )
        rows.clear()

    for seq in range(1, count + 1):
        action = rng.choices(names, weights)[0]
        actor_id, actor_name = rng.choice(users) if rng.random() > 0.02 else (None, "")
        project: int | None = rng.randint(1, 60)
        site: int | None = rng.randint(1, 25)
        failed = action in ("access.denied", "user.login_failed")
        outcome = 4 if failed else (8 if rng.random() < 0.001 else 0)
        obj_type, obj_id = ("task", str(rng.randint(1, 200_000)))
        detail: dict[str, Any] = {}
        if action == "task.status_change":
            detail = {"from": "pending", "to": rng.choice(["in_progress", "submitted", "done"])}
        elif action.startswith("user."):
            obj_type, obj_id, project, site = "user", str(actor_id or 0), None, None
        elif action == "access.denied":
            detail = {"attempted": "session.open", "reason": "not_assigned"}
        occurred = start + step * seq
        address = f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        content = canonical_content(
            seq=seq, occurred_at=occurred, actor_id=actor_id, actor_name=actor_name,
            action=action, outcome=outcome, object_type=obj_type, object_id=obj_id,
            project_id=project, site_id=site, source_address=address, detail=detail,
        )  # fmt: skip
        mac = chain_mac(content, prev)
        rows.append(
            (seq, occurred, actor_id, actor_name, action, outcome, obj_type, obj_id, project,
             site, address, json.dumps(detail), prev, mac)
        )  # fmt: skip
        prev = mac
        if len(rows) >= 20_000:
            flush()
    flush()
    AuditChainHead.objects.update_or_create(id=1, defaults={"seq": count, "mac": prev})
    publish_head(count, prev)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")
    print(f"generated {count:,} chained events in {time.perf_counter() - t0:.1f} s")


def _timed(fn: Any, runs: int = 11) -> tuple[float, float, Any]:
    """p50 and p95 (ms) of ``runs`` calls after one warm-up, and the last result."""
    result = fn()  # warm-up
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, result


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def bench_queries() -> None:
    from annotations.console.filters import AUDIT_VIEWS, AuditFilter, audit_event_filter, audit_page
    from annotations.models import AuditEvent

    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    now = dt.datetime.now(dt.UTC)
    everything = AuditEvent.objects.all()
    custodian = AuditEvent.objects.filter(site_id__in=[3, 7])
    scenarios: list[tuple[str, Any, dict[str, Any]]] = [
        ("newest page, no filter", everything, {}),
        ("deep page (before=seq/2)", everything, {"before": head // 2}),
        ("actor", everything, {"filter": AuditFilter(actor="user042")}),
        ("action (rare: user.roles_change)", everything,
         {"filter": AuditFilter(actions=("user.roles_change",))}),
        ("outcome failure", everything, {"filter": AuditFilter(outcome="failure")}),
        ("outcome serious failure (rare)", everything, {"filter": AuditFilter(outcome="8")}),
        ("project", everything, {"filter": AuditFilter(project_id=17)}),
        ("site", everything, {"filter": AuditFilter(site_id=5)}),
        ("object task:12345", everything,
         {"filter": AuditFilter(object_type="task", object_id="12345")}),
        ("time range: one day, 200 days ago", everything,
         {"filter": AuditFilter(since=now - dt.timedelta(days=200),
                                until=now - dt.timedelta(days=199))}),
        ("search common ('progress')", everything, {"filter": AuditFilter(terms=("progress",))}),
        ("search rare ('user042 denied')", everything,
         {"filter": AuditFilter(terms=("user042", "denied"))}),
        ("search prefix ('10 2 17')", everything, {"filter": AuditFilter(terms=("10", "2", "17"))}),
        ("search ~1% of events ('roles')", everything, {"filter": AuditFilter(terms=("roles",))}),
        ("search 3 short terms ('10 3 255')", everything,
         {"filter": AuditFilter(terms=("10", "3", "255"))}),
        ("search + deep page", everything,
         {"filter": AuditFilter(terms=("progress",)), "before": head // 3}),
        ("grants view", everything, {"filter": AuditFilter(view=AUDIT_VIEWS["grants"])}),
        ("alerts view + actor", everything,
         {"filter": AuditFilter(view=AUDIT_VIEWS["alerts"], actor="user007")}),
        ("custodian (2 sites) + project", custodian, {"filter": AuditFilter(project_id=17)}),
        ("actor + time range + failure", everything,
         {"filter": AuditFilter(actor="user042", outcome="failure",
                                since=now - dt.timedelta(days=90))}),
    ]  # fmt: skip
    print(f"\nfiltered page (50 rows, keyset), p50/p95 of 11, {head:,} events; {_load()}:")
    worst = 0.0
    for name, base, spec in scenarios:
        queryset = audit_event_filter(base, spec.get("filter", AuditFilter()))

        def run(queryset: Any = queryset, spec: dict[str, Any] = spec) -> Any:
            return audit_page(queryset, before=spec.get("before"), limit=50)

        ms, p95, page = _timed(run)
        worst = max(worst, ms)
        print(f"  {name:<40} p50 {ms:7.1f} ms  p95 {p95:7.1f} ms  ({len(page.events)} rows)")
    print(f"  worst filtered page (p50): {worst:.1f} ms (target < 300 ms)")


def bench_page_views() -> None:
    from django.test import Client

    from annotations.models import Role, User

    auditor, _ = User.objects.get_or_create(username="bench-auditor")
    from django.contrib.auth.models import Group

    auditor.groups.add(Group.objects.get(name=Role.AUDITOR.value))
    client = Client(HTTP_HOST="localhost", secure=True)
    client.force_login(auditor)
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=auditor)
    api = Client(HTTP_HOST="localhost", secure=True, HTTP_AUTHORIZATION=f"Token {token.key}")
    print(
        "\nwhole page views through the test client (query + render + audit.read), p50/p95 of 11;"
        f" {_load()}:"
    )
    for name, who, url in [
        ("audit log, no filter", client, "/console/audit/"),
        ("audit log, actor + failure", client, "/console/audit/?actor=user042&outcome=failure"),
        ("audit log, search", client, "/console/audit/?q=user042+denied"),
        ("security alerts", client, "/console/alerts/"),
        ("API, no filter (token)", api, "/api/audit/events/?limit=50"),
        ("API, actor + failure (token)", api, "/api/audit/events/?actor=user042&outcome=failure"),
        ("API, deep page (token)", api, "/api/audit/events/?before=400000&limit=200"),
    ]:
        try:
            ms, p95, response = _timed(lambda who=who, url=url: who.get(url))
        except Exception as exc:  # the bench reports; it does not stop at one broken page
            print(f"  {name:<40} failed: {type(exc).__name__}: {exc}")
            continue
        print(f"  {name:<40} p50 {ms:7.1f} ms  p95 {p95:7.1f} ms  (HTTP {response.status_code})")


def bench_verify() -> None:
    from annotations.services.audit import audit_verify_chain

    t0 = time.perf_counter()
    report = audit_verify_chain()
    seconds = time.perf_counter() - t0
    state = "ok" if report.ok else f"BROKEN at #{report.first_bad_seq}: {report.problem}"
    print(
        f"\naudit_verify_chain: {report.events:,} events in {seconds:.1f} s "
        f"({seconds / max(report.events, 1) * 1e6:.1f} µs/event), {state} (target < 60 s); {_load()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--skip-verify", action="store_true")
    args = parser.parse_args()
    _prepare_environment(args.database_url)

    import django

    django.setup()
    import logging

    # Each page view publishes the new chain head at INFO: one line per request drowns the figures.
    logging.getLogger("rhino.audit").setLevel(logging.WARNING)
    from django.core.management import call_command

    from annotations.models import AuditEvent

    call_command("migrate", verbosity=0)
    present = AuditEvent.objects.count()
    if args.regenerate or present < args.events:
        generate(args.events)
    else:
        print(f"reusing {present:,} events (use --regenerate to rebuild)")
    bench_queries()
    bench_page_views()
    if not args.skip_verify:
        bench_verify()


if __name__ == "__main__":
    main()
