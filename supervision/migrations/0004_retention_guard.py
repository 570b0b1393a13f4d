"""The plain ``callback_protect`` triggers, the retention token and its SECURITY DEFINER entry
point (PostgreSQL only; the SQL is literal, kept in supervision/db_roles.py's words)."""

from django.db import migrations

TABLES = (
    "visits_visitrecord",
    "core_auditlogentry",
    "supervision_auditreview",
    "escalations_escalation",
    "supervision_destructioncertificate",
)

INSTALL = [
    """CREATE TABLE IF NOT EXISTS callback_retention_token (
        txid bigint PRIMARY KEY,
        destruction_list_id bigint,
        at timestamptz NOT NULL DEFAULT now()
    )""",
    "REVOKE ALL ON callback_retention_token FROM PUBLIC",
    """CREATE OR REPLACE FUNCTION callback_retention_active() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
        SELECT EXISTS (SELECT 1 FROM callback_retention_token WHERE txid = txid_current())
    $$""",
    # A token only for an approved destruction list; false (no token) for any other.
    """CREATE OR REPLACE FUNCTION callback_retention_begin(list_id bigint) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    BEGIN
        IF NOT EXISTS (
            SELECT 1 FROM supervision_destructionlist WHERE id = list_id AND status = 'approved'
        ) THEN
            RETURN false;
        END IF;
        DELETE FROM callback_retention_token WHERE txid <> txid_current();
        INSERT INTO callback_retention_token (txid, destruction_list_id)
            VALUES (txid_current(), list_id) ON CONFLICT (txid) DO NOTHING;
        RETURN true;
    END $$""",
    "REVOKE ALL ON FUNCTION callback_retention_begin(bigint) FROM PUBLIC",
    """CREATE OR REPLACE FUNCTION callback_protect() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        protected boolean := true;
    BEGIN
        IF TG_TABLE_NAME = 'supervision_auditreview' THEN
            protected := OLD.finished_at IS NOT NULL;
        ELSIF TG_TABLE_NAME = 'escalations_escalation' THEN
            protected := OLD.status = 'closed';
        END IF;
        IF protected AND (
            TG_TABLE_NAME = 'supervision_destructioncertificate'
            OR NOT callback_retention_active()
        ) THEN
            RAISE EXCEPTION 'Cannot update or delete an immutable row of %', TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END $$""",
] + [
    f"CREATE TRIGGER callback_protect BEFORE UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION callback_protect()"
    for table in TABLES
]

UNINSTALL = [f"DROP TRIGGER IF EXISTS callback_protect ON {table}" for table in TABLES] + [
    "DROP FUNCTION IF EXISTS callback_protect()",
    "DROP FUNCTION IF EXISTS callback_retention_begin(bigint)",
    "DROP FUNCTION IF EXISTS callback_retention_active()",
    "DROP TABLE IF EXISTS callback_retention_token",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("supervision", "0003_visit_day_rollups"),
        ("core", "0001_initial"),
        ("visits", "0001_initial"),
        ("escalations", "0001_initial"),
    ]

    operations = [migrations.RunPython(_run(INSTALL), _run(UNINSTALL))]
