"""Complaint contact phones encrypted at rest, with a blind index for exact lookups. Existing
rows are re-saved through the historical model, whose fields encrypt and index on save."""

import core.crypto
from django.db import migrations


def encrypt_phones(apps, schema_editor):
    Complaint = apps.get_model("supervision", "Complaint")
    for complaint in Complaint.objects.order_by("pk").iterator(chunk_size=2000):
        if complaint.contact_phone:
            complaint.save(update_fields=["contact_phone", "contact_phone_index"])


class Migration(migrations.Migration):
    dependencies = [
        ("supervision", "0006_complaint_change_requests_overdue_notice"),
    ]

    operations = [
        migrations.AddField(
            model_name="complaint",
            name="contact_phone_index",
            field=core.crypto.BlindIndexField(
                blank=True, db_index=True, editable=False, max_length=64, source="contact_phone"
            ),
        ),
        migrations.AlterField(
            model_name="complaint",
            name="contact_phone",
            field=core.crypto.EncryptedTextField(
                blank=True, max_length=30, verbose_name="联系电话"
            ),
        ),
        migrations.RunPython(encrypt_phones, migrations.RunPython.noop, elidable=True),
    ]
