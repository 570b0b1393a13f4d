"""The two paths of ``event_parse``: the one-pass parse of a valid transaction (the bulk of a
batch) accepts only what the field-by-field check accepts, and parses it the same."""

import copy
import datetime as dt
import random
from decimal import Decimal

from visits.api.events import (
    EVENT_EXAMPLE,
    _event_checked,
    _latest_occurred_at,
    _valid_transaction,
    event_parse,
)

# The API's own example, in another currency (the USD path of the parse).
VALID = {**EVENT_EXAMPLE, "data": {**EVENT_EXAMPLE["data"], "currency": "USD"}}

# Values each field is tried with: good ones and every kind of bad one.
TOP = {
    "event_id": ["E-1", "", " E", "x" * 65, "a/b:c.d_e-f", 7, None, ["E"], "é"],
    "type": ["transaction", "complaint", "Transaction", "", None, 1, ["transaction"]],
    "account_number": ["6222", "6222 0001", "", "x" * 33, 6222, None, "ab-12"],
    "occurred_at": [
        "2026-11-28T10:15:00+08:00",
        "2026-11-28T10:15:00",  # no offset
        "2026-11-28",
        "2026-02-30T10:00:00+08:00",
        "1969-12-31T23:59:59+00:00",
        "1970-01-01T07:59:59+08:00",  # 1969 in UTC
        "1970-01-01T08:00:00+08:00",
        "2999-01-01T00:00:00Z",
        "2026-11-28T10:15:00.123456-05:30",
        "",
        None,
        20261128,
    ],
}
DATA = {
    "amount": ["1", "0", "0.00", "-5", "1.234", "1e5", "12345678901234567", " 5", 5, 5.5, None],
    "currency": ["CNY", "usd", "US", "", None, 1],
    "direction": ["in", "out", "IN", "", None, ["in"]],
    "channel": ["counter", "atm", "online", "mobile", "pos", "branch", None, {"a": 1}],
    "kind": ["cash", "transfer", "wire", "", None, ["cash"]],
}


def _variants(rng: random.Random, n: int):
    for _ in range(n):
        raw = copy.deepcopy(VALID)
        for name, values in TOP.items():
            if rng.random() < 0.25:
                raw[name] = rng.choice(values)
        for name, values in DATA.items():
            if rng.random() < 0.2:
                raw["data"][name] = rng.choice(values)
        roll = rng.random()
        if roll < 0.05:
            del raw[rng.choice(list(raw))]
        elif roll < 0.1:
            del raw["data"][rng.choice(list(raw["data"]))]
        elif roll < 0.13:
            raw["extra"] = "x"
        elif roll < 0.16:
            raw["data"]["note"] = "x"
        elif roll < 0.18:
            raw["data"] = rng.choice([None, [], "x", {}])
        elif roll < 0.2:
            raw = rng.choice([None, [], "x", 1])
        yield raw


def test_the_fast_path_takes_a_valid_transaction_and_parses_it_as_the_full_check_does():
    latest = _latest_occurred_at()
    fast = _valid_transaction(VALID, latest, latest.timestamp())
    assert fast is not None
    assert _event_checked(VALID, latest) == (fast, {})
    assert fast["fields"]["amount"] == Decimal("80000.00")


def test_whatever_the_fast_path_accepts_the_full_check_accepts_the_same():
    latest = _latest_occurred_at()
    rng = random.Random(20261130)
    taken = refused = 0
    for raw in _variants(rng, 5000):
        fast = _valid_transaction(raw, latest, latest.timestamp())
        checked, errors = _event_checked(raw, latest)
        if fast is None:
            refused += 1
            assert event_parse(raw, latest=latest) == (checked, errors)
            continue
        taken += 1
        assert errors == {}, raw
        assert fast == checked, raw
    assert taken > 500 and refused > 500  # both paths were exercised


def test_an_event_after_the_latest_accepted_time_is_refused_on_both_paths():
    latest = dt.datetime(2026, 11, 28, 2, 15, tzinfo=dt.UTC)  # 10:15 in Beijing
    assert _valid_transaction(VALID, latest, latest.timestamp()) is not None
    later = {**VALID, "occurred_at": "2026-11-28T10:15:01+08:00"}
    assert _valid_transaction(later, latest, latest.timestamp()) is None
    parsed, errors = event_parse(later, latest=latest)
    assert parsed is None and "occurred_at" in errors
