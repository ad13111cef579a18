"""Malformed JSON, unknown fields, wrong types and oversized bodies: a 4xx with a stable code,
and nothing half-written."""

from __future__ import annotations

import pytest

from annotations.models import AuditEvent, LabelEntry, LabelSchema, Task
from tests.annotations.conftest import SCHEMA_ENTRIES, series_handle


def _post_raw(client, path: str, body: bytes, content_type: str = "application/json"):
    return client.generic("POST", path, body, content_type=content_type)


@pytest.mark.parametrize(
    "body",
    [b"{", b"[1,", b'{"status": NaN}', b"\xff\xfe not utf-8", b'{"a": 1} trailing'],
    ids=["unclosed", "truncated", "nan", "not-utf8", "trailing"],
)
def test_malformed_json_is_a_400_malformed_json(world, api, body: bytes) -> None:
    response = _post_raw(api(world.annotator), f"/api/tasks/{world.task.pk}/status/", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_unknown_field_is_named(world, api) -> None:
    response = api(world.annotator).post(
        f"/api/tasks/{world.task.pk}/status/",
        {"status": "in_progress", "colour": "red"},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_field" and "colour" in error["fields"]
    assert Task.objects.get(pk=world.task.pk).status == "pending"


@pytest.mark.parametrize(
    "body",
    [
        {"status": 5},
        {"status": "done"},
        {"status": None},
        [],
        "in_progress",
        {"status": ["in_progress"]},
    ],
)
def test_wrong_types_are_a_400_invalid(world, api, body) -> None:
    response = api(world.annotator).post(f"/api/tasks/{world.task.pk}/status/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_wrong_media_type_is_415(world, api) -> None:
    response = _post_raw(
        api(world.annotator), f"/api/tasks/{world.task.pk}/status/", b"status=x", "text/plain"
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_oversized_body_is_413_before_parsing(world, api, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    entries = [dict(SCHEMA_ENTRIES[0], key=f"k{i}", code_value=str(i)) for i in range(40)]
    response = api(world.lead).post(
        f"/api/projects/{world.project.pk}/label-schemas/", {"entries": entries}, format="json"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_invalid_schema_leaves_nothing_half_written(world, api) -> None:
    """The second entry is bad: neither the schema version nor the first entry may remain."""
    schemas, entries, events = (
        LabelSchema.objects.count(),
        LabelEntry.objects.count(),
        AuditEvent.objects.count(),
    )
    bad = [SCHEMA_ENTRIES[0], dict(SCHEMA_ENTRIES[1], colour="blue")]
    response = api(world.lead).post(
        f"/api/projects/{world.project.pk}/label-schemas/", {"entries": bad}, format="json"
    )
    assert response.status_code == 400
    duplicate = [SCHEMA_ENTRIES[0], dict(SCHEMA_ENTRIES[1], key="nodule")]
    response = api(world.lead).post(
        f"/api/projects/{world.project.pk}/label-schemas/", {"entries": duplicate}, format="json"
    )
    assert response.status_code == 400
    assert (LabelSchema.objects.count(), LabelEntry.objects.count(), AuditEvent.objects.count()) == (
        schemas, entries, events,
    )  # fmt: skip


def test_task_with_a_non_handle_is_refused(world, api) -> None:
    for handle in [
        "1.2.840.113619.2.55.3",
        "../../etc/passwd",
        "se_" + "A" * 20,
        series_handle().replace("se_", "in_"),
    ]:
        response = api(world.lead).post(
            "/api/tasks/",
            {
                "project": world.project.pk,
                "site": world.site.pk,
                "series_handle": handle,
                "label_schema": world.schema.pk,
            },
            format="json",
        )
        assert response.status_code == 400, handle
        assert "series_handle" in response.json()["error"]["fields"]


def test_invalid_transition_is_409(world, api) -> None:
    response = api(world.annotator).post(
        f"/api/tasks/{world.task.pk}/status/", {"status": "approved"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"


def test_bad_gateway_key_is_refused(world, api) -> None:
    for key in ["not base64!", "QUJD", "A" * 64]:
        response = api(world.custodian).put(
            f"/api/sites/{world.site.pk}/gateway-key/", {"public_key": key}, format="json"
        )
        assert response.status_code == 400, key
    world.site.refresh_from_db()
    assert world.site.gateway_public_key == ""
