"""The security department that receives suspected frauds (SPEC §4): every install has it,
with or without demo data. The code is the default of the SECURITY_DEPARTMENT_CODE setting;
an install that sets another code gets that department made on first use. Literal data."""

from django.db import migrations


def create(apps, schema_editor):
    Department = apps.get_model("accounts", "Department")
    Department.objects.get_or_create(code="security", defaults={"name": "安全保卫部"})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_event_keys_events_without_response")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
