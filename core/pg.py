"""PostgreSQL plumbing shared by the set-based statements (event ingestion, its windows).

``pg_array`` writes a list as PostgreSQL's text form of an array, one string parameter that
the statement casts (``%s::bigint[]``, ``%s::text[]``, ``%s::timestamptz[]``). psycopg2 sends
a Python list as ``ARRAY[...]`` with one constant per element, which the server then folds
one by one: measured on a batch of 1,000, 2 ms for integers and 5 ms for timestamps, against
0.2 ms and 1.5 ms as one literal, on every batch of ingestion.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"') if '"' in text or "\\" in text else text


def _quoted(text: str) -> str:
    # Inside an array literal: double quotes, with backslash and double quote escaped.
    return '"' + _escaped(text) + '"'


def _element(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(int(value))  # an int subclass (an enum) as its number
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return '"' + value.isoformat() + '"'
    if isinstance(value, str):
        return _quoted(value)
    raise TypeError(f"pg_array: {type(value).__name__} is not an array element")


def pg_array(values: Iterable) -> str:
    """The text form of a one-dimensional array of integers, decimals, booleans, strings,
    dates or datetimes (an aware datetime keeps its offset; None is NULL)."""
    values = list(values)
    kinds = {value.__class__ for value in values}
    if not values:
        return "{}"
    if kinds == {int}:
        return "{" + ",".join(map(str, values)) + "}"
    if kinds == {str}:  # every element quoted, so that "NULL", "" or a comma stay text
        return '{"' + '","'.join([_escaped(value) for value in values]) + '"}'
    if kinds == {datetime.datetime}:
        return '{"' + '","'.join([value.isoformat() for value in values]) + '"}'
    return "{" + ",".join([_element(value) for value in values]) + "}"
