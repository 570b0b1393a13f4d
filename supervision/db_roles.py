"""Immutability that the runtime database role cannot switch off, and that role's grants.

The product connects as a *runtime* role with DML grants only (``DATABASE_URL``); migrations run
as the *owner* of the tables (``DATABASE_MIGRATE_URL``). On top of the pgtrigger triggers in the
models (which a session can skip with ``SET LOCAL pgtrigger.ignore`` or satisfy with
``SET LOCAL callback.retention``), every protected table carries a plain trigger,
``callback_protect``, with no switch: it lets a protected row change only in a transaction that
holds a retention token. A token is written by ``callback_retention_begin(list_id)``, a
``SECURITY DEFINER`` function owned by the owner role, and only for an *approved* destruction
list; the runtime role has no grant on the token table itself. The owner (and a superuser) may
write a token directly: they own the tables anyway. The SQL itself is in the migration
supervision/0004_retention_guard.py.
"""

PROTECTED_TABLES = (
    "visits_visitrecord",
    "core_auditlogentry",
    "supervision_auditreview",
    "escalations_escalation",
    "supervision_destructioncertificate",
)
TOKEN_TABLE = "callback_retention_token"


def runtime_grants_sql(role: str) -> list[str]:
    """What the runtime role may do: read and write rows, use sequences, call the retention
    entry point. Not: own, alter, truncate, disable triggers, or touch the token table."""
    quoted = '"' + role.replace('"', '""') + '"'
    return [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"REVOKE ALL ON {TOKEN_TABLE} FROM {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        f"GRANT EXECUTE ON FUNCTION callback_retention_begin(bigint) TO {quoted}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {quoted}",
    ]
