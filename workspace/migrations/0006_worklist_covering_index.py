"""The worklist's own index on the visits table (PostgreSQL only).

The worklist reads an agent's open visits three times per page: the counts, the page of ids in
worklist order and the appointments. This partial index holds only open, assigned visits (a
tenth of the table, bounded by the work in hand, not by history) and carries every column those
three statements filter and sort on, so they are index-only scans of a few pages instead of one
heap page per open visit; the page's rows are then fetched by id (workspace/views.py).

Built concurrently, outside a transaction, so that creating it does not block visit writes.
SQLite has no INCLUDE: it keeps the existing indexes."""

from django.db import migrations

INDEX = "visit_agent_open_cover"
CREATE = f"""
CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON visits_visit (assigned_to_id, status)
INCLUDE (id, branch_id, kind, priority, due_at, callback_at)
WHERE status IN ('pending', 'assigned', 'in_progress') AND assigned_to_id IS NOT NULL
"""
DROP = f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("visits", "0007_admin_labels"),
        ("workspace", "0005_admin_labels"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]
