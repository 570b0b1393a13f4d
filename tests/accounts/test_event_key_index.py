"""The idempotency keys' creation time, by which they are purged, is indexed: a BRIN index on
PostgreSQL (keys are written in time order), a B-tree elsewhere (accounts migration 0011)."""

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db]


def _indexes_on_created_at() -> dict[str, str]:
    """index name -> its definition, for the indexes of accounts_eventkey on created_at."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'accounts_eventkey'"
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'accounts_eventkey' AND sql IS NOT NULL"
            )
        return {name: sql for name, sql in cursor.fetchall() if "created_at" in sql}


def test_the_purge_column_has_one_index_and_on_postgresql_it_is_brin():
    indexes = _indexes_on_created_at()
    assert list(indexes) == ["event_key_created"]
    if connection.vendor == "postgresql":
        assert "USING brin (created_at)" in indexes["event_key_created"]
