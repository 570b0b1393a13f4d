"""``core.pg``: the text forms sent to PostgreSQL say what Python's own spelling says."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from core.pg import isoformats, pg_array

SHANGHAI = ZoneInfo("Asia/Shanghai")

AWARE = [
    dt.datetime(2026, 11, 30, 17, 31, 48, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 1, 1, 2, 3, 4567, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))),
    dt.datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=14))),
]


def test_isoformats_equals_isoformat_for_fixed_offsets_of_whole_minutes():
    assert isoformats(AWARE) == [value.isoformat() for value in AWARE]


@pytest.mark.parametrize(
    "odd",
    [
        # An offset with seconds (orjson would round it), a zone, an old local mean time.
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, seconds=7))),
        dt.datetime(2026, 7, 1, 9, 0, tzinfo=SHANGHAI),
        dt.datetime(1900, 1, 1, tzinfo=SHANGHAI),
    ],
)
def test_isoformats_falls_back_to_isoformat_for_anything_else(odd):
    values = [*AWARE, odd]
    assert isoformats(values) == [value.isoformat() for value in values]


def test_pg_array_writes_each_kind_as_postgresql_reads_it():
    assert pg_array([]) == "{}"
    assert pg_array([1, 2, 30]) == "{1,2,30}"
    assert pg_array(["a", 'say "hi"', "back\\slash", "NULL", ""]) == (
        '{"a","say \\"hi\\"","back\\\\slash","NULL",""}'
    )
    assert pg_array([Decimal("80000.00"), None, True]) == "{80000.00,NULL,t}"
    assert pg_array(AWARE[:2]) == ('{"2026-11-30T17:31:48+08:00","2026-01-01T00:00:00+00:00"}')


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_reads_the_arrays_back_as_the_values_written():
    odd = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, seconds=7)))
    texts = ["a", 'say "hi"', "back\\slash", "NULL", "", "逗号,和空格 "]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::timestamptz[], %s::text[]", [pg_array([*AWARE, odd]), pg_array(texts)]
        )
        times, read_texts = cursor.fetchone()
    assert times == [*AWARE, odd]
    assert read_texts == texts
