"""The review checklist's items become a choice (yes / no / not applicable / not assessed)
instead of a boolean that could not tell "no" from "not assessed". Stored booleans carry over
as yes/no. On PostgreSQL the column is converted in place (ALTER ... USING), so no row is
updated and the finished-review trigger is not involved; elsewhere the field is altered and
the copied 1/0 values are mapped afterwards."""

from django.db import migrations, models

CHECKLIST = (
    ("record_complete", "记录完整"),
    ("identity_stated", "表明身份"),
    ("script_followed", "遵循话术"),
    ("reminders_given", "已作安全提示"),
    ("handled_in_time", "问题及时处理"),
    ("escalation_justified", "转办合理"),
)
CHOICES = [("yes", "是"), ("no", "否"), ("na", "不适用"), ("unassessed", "未评估")]
TABLE = "supervision_auditreview"


class BooleanToCheckResult(migrations.AlterField):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        column = schema_editor.quote_name(self.name)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"ALTER TABLE {TABLE} ALTER COLUMN {column} TYPE varchar(10) "
                f"USING CASE WHEN {column} THEN 'yes' ELSE 'no' END"
            )
            return
        super().database_forwards(app_label, schema_editor, from_state, to_state)
        schema_editor.execute(
            f"UPDATE {TABLE} SET {column} = CASE WHEN {column} IN ('1', 'true', 'True') "
            f"THEN 'yes' ELSE 'no' END"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        column = schema_editor.quote_name(self.name)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"ALTER TABLE {TABLE} ALTER COLUMN {column} TYPE boolean USING {column} = 'yes'"
            )
            return
        # AlterField's backwards is its forwards between the states (not this class's forwards).
        migrations.AlterField.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )
        schema_editor.execute(
            f"UPDATE {TABLE} SET {column} = CASE WHEN {column} = 'yes' THEN 1 ELSE 0 END"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("supervision", "0007_complaint_contact_phone_encrypted"),
    ]

    operations = [
        BooleanToCheckResult(
            model_name="auditreview",
            name=name,
            field=models.CharField(choices=CHOICES, max_length=10, verbose_name=label),
        )
        for name, label in CHECKLIST
    ]
