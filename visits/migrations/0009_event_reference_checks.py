"""The references of events and idempotency keys to accounts and service clients checked once
per statement instead of once per row (PostgreSQL).

A foreign key checks each inserted row on its own: a batch of 1,000 events ran 3,000 lookups
(its accounts, and its client a thousand times for the events and again for their keys). For
the events that cost as much as the COPY of the batch itself (about 9 ms of 20 per 1,000 rows,
measured on the benchmark database). These foreign keys (events: account and client; keys:
client) are replaced by statement-level triggers that check the same rules set-based, over the
statement's transition tables:

- an INSERT of events or keys (once per statement) and an UPDATE that changes their account or
  client (row by row, only then): every account and client they name exists, and those rows
  are locked FOR KEY SHARE until the transaction ends, as a foreign key's check locks them (an
  account cannot be deleted while an event naming it is being written);
- a DELETE of accounts or clients (once per statement), or an UPDATE of their id (row by row,
  only then): refused while an event or a key names one (the ORM deletes a client's keys
  first: CASCADE).

A violation raises SQLSTATE 23503 (foreign_key_violation), which Django reports as an
IntegrityError, as before. ``created_by`` keeps its foreign key (the product's own events, few
rows). The model's ``db_constraint=False`` on the three fields (accounts migration 0009, which
changes the state only) says that Django names no constraint for them; on PostgreSQL these
triggers do the checking, and SQLite, the development database, keeps its foreign keys.
"""

from django.db import migrations

REFERENCES = (
    # (tag, table, column, referenced table)
    ("event_account", "accounts_accountevent", "account_id", "accounts_account"),
    ("event_client", "accounts_accountevent", "client_id", "core_serviceclient"),
    ("eventkey_client", "accounts_eventkey", "client_id", "core_serviceclient"),
)

FORWARD = """
CREATE FUNCTION ref_{tag}_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint;
    found bigint;
BEGIN
    SELECT count(DISTINCT {column}) INTO wanted FROM written WHERE {column} IS NOT NULL;
    IF wanted = 0 THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO found FROM (
        SELECT 1 FROM {target} t
        WHERE t.id IN (SELECT {column} FROM written WHERE {column} IS NOT NULL)
        FOR KEY SHARE OF t
    ) locked;
    IF found < wanted THEN
        RAISE EXCEPTION 'insert or update on table "{table}" violates the reference to "{target}"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = 'A {column} of the rows written names no row of {target}.';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER ref_{tag}_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ref_{tag}_check();

CREATE FUNCTION ref_{tag}_row_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.{column} IS NOT NULL THEN
        PERFORM 1 FROM {target} t WHERE t.id = NEW.{column} FOR KEY SHARE OF t;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'update on table "{table}" violates the reference to "{target}"'
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = 'The new {column} names no row of {target}.';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
-- Row by row, and only when the reference changes (never, in the product): an update of
-- other columns (the flag of a batch's large transactions, a key's first answer) costs
-- nothing.
CREATE TRIGGER ref_{tag}_update BEFORE UPDATE OF {column} ON {table}
    FOR EACH ROW WHEN (OLD.{column} IS DISTINCT FROM NEW.{column})
    EXECUTE FUNCTION ref_{tag}_row_check();

CREATE FUNCTION ref_{tag}_target_update_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM {table} r WHERE r.{column} = OLD.id) THEN
        RAISE EXCEPTION 'update on table "{target}" violates the reference from "{table}"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = 'Rows of {table} still name the renumbered row of {target}.';
    END IF;
    RETURN NEW;
END
$$;
CREATE FUNCTION ref_{tag}_target_delete_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM gone g WHERE EXISTS (SELECT 1 FROM {table} r WHERE r.{column} = g.id)
    ) THEN
        RAISE EXCEPTION 'delete on table "{target}" violates the reference from "{table}"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = 'Rows of {table} still name a deleted row of {target}.';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER ref_{tag}_target_delete AFTER DELETE ON {target}
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION ref_{tag}_target_delete_check();
CREATE TRIGGER ref_{tag}_target_update BEFORE UPDATE OF id ON {target}
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION ref_{tag}_target_update_check();
"""

BACKWARD = """
DROP TRIGGER ref_{tag}_target_update ON {target};
DROP TRIGGER ref_{tag}_target_delete ON {target};
DROP FUNCTION ref_{tag}_target_delete_check();
DROP FUNCTION ref_{tag}_target_update_check();
DROP TRIGGER ref_{tag}_update ON {table};
DROP FUNCTION ref_{tag}_row_check();
DROP TRIGGER ref_{tag}_insert ON {table};
DROP FUNCTION ref_{tag}_check();
"""

FOREIGN_KEYS = """
SELECT c.conname FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
WHERE c.conrelid = %s::regclass AND c.contype = 'f' AND a.attname = %s
"""


def checks_by_statement(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for tag, table, column, target in REFERENCES:
            cursor.execute(FOREIGN_KEYS, [table, column])
            for (name,) in cursor.fetchall():
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            cursor.execute(FORWARD.format(tag=tag, table=table, column=column, target=target))


def checks_by_row(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for tag, table, column, target in REFERENCES:
            cursor.execute(BACKWARD.format(tag=tag, table=table, column=column, target=target))
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_fk FOREIGN KEY ({column}) "
                f"REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_event_references_checked_by_statement"),
        ("visits", "0008_visit_due_covering_index"),
    ]

    operations = [
        migrations.RunPython(checks_by_statement, checks_by_row, elidable=False),
    ]
