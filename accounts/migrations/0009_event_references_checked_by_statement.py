"""State only: the events' account and client, and the idempotency keys' client, are no longer
foreign-key constraints that Django names. On PostgreSQL, visits migration 0009_event_reference_checks replaces them with triggers
that check the same references once per statement; SQLite keeps its foreign keys."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_event_key_client_no_own_index"),
        ("core", "0004_admin_labels"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="accountevent",
                    name="account",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="accounts.account",
                        verbose_name="账户",
                    ),
                ),
                migrations.AlterField(
                    model_name="accountevent",
                    name="client",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="core.serviceclient",
                        verbose_name="接口客户端",
                    ),
                ),
                migrations.AlterField(
                    model_name="eventkey",
                    name="client",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.serviceclient",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
