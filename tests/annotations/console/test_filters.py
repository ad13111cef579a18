"""Filter parsing and the search index contract."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.http import QueryDict

from annotations.console.filters import AUDIT_VIEWS, SEARCH_DOCUMENT_SQL, search_terms
from annotations.console.forms import ConsoleFilterError, parse_audit_query


def test_search_expression_matches_the_gin_index_of_migration_0003() -> None:
    migration = importlib.import_module("annotations.migrations.0003_audit_console")
    assert migration.SEARCH_DOCUMENT_SQL == SEARCH_DOCUMENT_SQL


def test_search_terms_are_plain_word_runs() -> None:
    assert search_terms("Task.Assign  user_login_failed 10.0.0.1") == (
        "task", "assign", "user", "login", "failed", "10", "0", "1",
    )  # fmt: skip
    assert search_terms("a:* | !b & 'c'") == ("a", "b", "c")
    assert search_terms("x " * 50) == ("x",)
    assert len(search_terms(" ".join(f"t{i}" for i in range(20)))) == 8


def test_times_are_utc_and_naive_means_utc() -> None:
    query = parse_audit_query(
        QueryDict("since=2026-01-31T14:00:00&until=2026-01-31T16:30:00%2B02:00"),
        AUDIT_VIEWS["audit"],
    )
    assert query.filter.since == dt.datetime(2026, 1, 31, 14, tzinfo=dt.UTC)
    assert query.filter.until == dt.datetime(2026, 1, 31, 14, 30, tzinfo=dt.UTC)
    assert query.filter.as_detail()["since"] == "2026-01-31T14:00:00+00:00"


def test_object_filter_and_empty_action_option() -> None:
    query = parse_audit_query(QueryDict("object=task:42&action="), AUDIT_VIEWS["audit"])
    assert (query.filter.object_type, query.filter.object_id, query.filter.actions) == (
        "task",
        "42",
        (),
    )
    assert query.limit == 50


def test_paging_parameters_are_not_filters_of_an_export() -> None:
    with pytest.raises(ConsoleFilterError) as caught:
        parse_audit_query(QueryDict("limit=5"), AUDIT_VIEWS["audit"], paging=False)
    assert caught.value.code == "unknown_field"
