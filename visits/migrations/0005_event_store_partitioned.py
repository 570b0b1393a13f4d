"""Events referenced without a database-level foreign key, and on PostgreSQL the events table
partitioned by month of ``occurred_at``.

A partitioned table's primary key must contain the partition key, so it becomes
(id, occurred_at) and ``id`` alone can no longer be the target of a foreign key: the triggers
and transaction checks keep their ``event_id`` columns (indexed, cascaded by the ORM) without a
database constraint. Partitions: one per month from 14 months back to 3 months ahead, and a
DEFAULT partition for anything outside them; ``visits.event_store`` creates the months ahead
each night and drops the old ones. SQLite keeps one plain table."""

import datetime

import django.db.models.deletion
from django.db import migrations, models

TABLE = "accounts_accountevent"


def _month(day, shift):
    index = day.year * 12 + day.month - 1 + shift
    return datetime.date(index // 12, index % 12 + 1, 1)


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    today = datetime.date.today()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_unpartitioned")
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass",
            [f"{TABLE}_unpartitioned"],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {TABLE}_unpartitioned DROP CONSTRAINT "{name}"')
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s", [f"{TABLE}_unpartitioned"]
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(
            f"CREATE TABLE {TABLE} (LIKE {TABLE}_unpartitioned INCLUDING DEFAULTS "
            f"INCLUDING IDENTITY) PARTITION BY RANGE (occurred_at)"
        )
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        for shift in range(-14, 4):
            start, end = _month(today, shift), _month(today, shift + 1)
            cursor.execute(
                f"CREATE TABLE {TABLE}_p{start:%Y%m} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{start}') TO ('{end}')"
            )
        cursor.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id, occurred_at)")
        for column, target in (
            ("client_id", "core_serviceclient"),
            ("created_by_id", "auth_user"),
            ("account_id", "accounts_account"),
        ):
            cursor.execute(
                f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_{column}_fk FOREIGN KEY ({column}) "
                f"REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
            )
        cursor.execute(f"CREATE INDEX event_account_time ON {TABLE} (account_id, occurred_at)")
        cursor.execute(f"CREATE INDEX event_client_event_id ON {TABLE} (client_id, event_id)")
        cursor.execute(f"CREATE INDEX {TABLE}_created_by_id ON {TABLE} (created_by_id)")
        cursor.execute(
            f"INSERT INTO {TABLE} OVERRIDING SYSTEM VALUE SELECT * FROM {TABLE}_unpartitioned"
        )
        cursor.execute(f"DROP TABLE {TABLE}_unpartitioned")
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "
            f"COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, false)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_event_keys_events_without_response"),
        ("visits", "0004_seed_currency_rates_usd_thresholds"),
    ]

    operations = [
        migrations.AlterField(
            model_name="transactioncheck",
            name="event",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.accountevent",
            ),
        ),
        migrations.AlterField(
            model_name="visittrigger",
            name="event",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="triggers",
                to="accounts.accountevent",
            ),
        ),
        migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
    ]
