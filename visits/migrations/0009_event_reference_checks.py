"""The events table's references to accounts and service clients checked once per statement
instead of once per row (PostgreSQL).

A foreign key checks each inserted row on its own: a batch of 1,000 events ran 2,000 lookups
of an account or a client (the same client a thousand times), which cost as much as the COPY
of the batch itself (about 9 ms of 20 per 1,000 rows, measured on the benchmark database).
These two foreign keys are replaced by statement-level triggers that check the same rules
set-based, over the statement's transition tables:

- an INSERT or UPDATE of events: every account and client they name exists, and those rows are
  locked FOR KEY SHARE until the transaction ends, as a foreign key's check locks them (an
  account cannot be deleted while an event naming it is being written);
- a DELETE of accounts or clients, or an UPDATE of their id: refused while an event names one.

A violation raises SQLSTATE 23503 (foreign_key_violation), which Django reports as an
IntegrityError, as before. ``created_by`` keeps its foreign key (the product's own events, few
rows). The model's ``db_constraint=False`` on the two fields (accounts migration 0009, which
changes the state only) says that Django names no constraint for them; on PostgreSQL these
triggers do the checking, and SQLite, the development database, keeps its foreign keys.
"""

from django.db import migrations

EVENTS = "accounts_accountevent"
REFERENCES = (
    # (events column, referenced table, nullable)
    ("account_id", "accounts_account", False),
    ("client_id", "core_serviceclient", True),
)

FORWARD = """
CREATE FUNCTION {events}_{column}_check() RETURNS trigger LANGUAGE plpgsql AS $$
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
        RAISE EXCEPTION 'insert or update on table "{events}" violates the reference to "{target}"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = 'A {column} of the rows written names no row of {target}.';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER {events}_{column}_insert AFTER INSERT ON {events}
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION {events}_{column}_check();
CREATE TRIGGER {events}_{column}_update AFTER UPDATE ON {events}
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION {events}_{column}_check();

CREATE FUNCTION {target}_events_{column}_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM (SELECT id FROM gone EXCEPT SELECT id FROM kept) g
        WHERE EXISTS (SELECT 1 FROM {events} e WHERE e.{column} = g.id)
    ) THEN
        RAISE EXCEPTION 'delete or update on table "{target}" violates the reference from "{events}"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = 'Events still name a row of {target} that was deleted or renumbered.';
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION {target}_events_{column}_delete_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM gone g WHERE EXISTS (SELECT 1 FROM {events} e WHERE e.{column} = g.id)
    ) THEN
        RAISE EXCEPTION 'delete on table "{target}" violates the reference from "{events}"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = 'Events still name a row of {target} that was deleted.';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER {target}_events_{column}_delete AFTER DELETE ON {target}
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION {target}_events_{column}_delete_check();
CREATE TRIGGER {target}_events_{column}_update AFTER UPDATE ON {target}
    REFERENCING OLD TABLE AS gone NEW TABLE AS kept FOR EACH STATEMENT
    EXECUTE FUNCTION {target}_events_{column}_check();
"""

BACKWARD = """
DROP TRIGGER {target}_events_{column}_update ON {target};
DROP TRIGGER {target}_events_{column}_delete ON {target};
DROP FUNCTION {target}_events_{column}_delete_check();
DROP FUNCTION {target}_events_{column}_check();
DROP TRIGGER {events}_{column}_update ON {events};
DROP TRIGGER {events}_{column}_insert ON {events};
DROP FUNCTION {events}_{column}_check();
"""


def _sql(template: str, column: str, target: str) -> str:
    return template.format(events=EVENTS, column=column, target=target)


def checks_by_statement(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for column, target, _nullable in REFERENCES:
            cursor.execute(f"ALTER TABLE {EVENTS} DROP CONSTRAINT IF EXISTS {EVENTS}_{column}_fk")
            cursor.execute(_sql(FORWARD, column, target))


def checks_by_row(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for column, target, _nullable in REFERENCES:
            cursor.execute(_sql(BACKWARD, column, target))
            cursor.execute(
                f"ALTER TABLE {EVENTS} ADD CONSTRAINT {EVENTS}_{column}_fk FOREIGN KEY ({column}) "
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
