"""A request's trail: its own entries and those of its results, files and sheets."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis import services
from audit.queries import trail_for
from tests.audit.conftest import make_children, make_request

pytestmark = pytest.mark.django_db


def test_the_trail_holds_the_request_and_everything_that_belongs_to_it_oldest_first():
    request = make_request()
    result, media, sheet = make_children(request)
    sheet_id = sheet.pk
    sheet.delete()
    services.soft_delete_request(request.pk)
    other = make_request()
    make_children(other)

    trail = list(trail_for(request.pk))
    assert [(e.table_name, e.action) for e in trail] == [
        ("media_analysis_requests", "INSERT"),
        ("media_analysis_results", "INSERT"),
        ("media_files", "INSERT"),
        ("contact_sheets", "INSERT"),
        ("contact_sheets", "DELETE"),
        ("media_analysis_requests", "UPDATE"),
    ]
    assert {e.record_id for e in trail} == {request.pk, result.pk, media.pk, sheet_id}
    assert trail[-1].as_dict()["new_values"]["status"] == "deleted"


def test_a_table_name_narrows_the_records_own_entries():
    request = make_request()
    assert len(trail_for(request.pk, table_name="media_analysis_requests")) == 1
    assert len(trail_for(request.pk, table_name="media_files")) == 0


def test_the_trail_is_one_query_using_the_indexes():
    request = make_request()
    make_children(request)
    with CaptureQueriesContext(connection) as queries:
        list(trail_for(request.pk))
    assert len(queries) == 1
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        # Nor a walk of the created_at index testing each row, which a table of a
        # few rows may also choose: what is asked is that both conditions have an
        # index to use (a BitmapOr of the two).
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + queries[0]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "idx_audit_record" in plan and "idx_audit_parent" in plan
