from __future__ import annotations

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor paging: stable under inserts and O(1) per page on big tables (no OFFSET scans)."""

    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"
