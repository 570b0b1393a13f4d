"""Shared terms of the query budgets (tests/*/test_query_budgets.py)."""

from django.db import connection

# One audit entry: savepoint, the advisory lock that serialises the hash chain (PostgreSQL
# only; SQLite serialises writers itself), the chain's last hash, the insert, release.
AUDIT_ENTRY = 5 if connection.vendor == "postgresql" else 4
