"""Account numbers encrypted at rest: the column holds Fernet ciphertext, exact lookups go
through a blind index (HMAC-SHA256), lists read a masked copy. Existing rows are re-saved
through the historical model, whose fields encrypt, index and mask on save."""

import core.crypto
import core.masking
from django.db import migrations


def encrypt_numbers(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    for account in Account.objects.order_by("pk").iterator(chunk_size=2000):
        account.save(update_fields=["number", "number_index", "number_masked"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_customer_sms_opt_out"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="number_index",
            # Indexed once filled (below): a unique index on a column of blanks would refuse.
            field=core.crypto.BlindIndexField(
                blank=True, db_index=False, editable=False, max_length=64, source="number"
            ),
        ),
        migrations.AddField(
            model_name="account",
            name="number_masked",
            field=core.crypto.MaskedCopyField(
                blank=True,
                editable=False,
                mask=core.masking.mask_account_number,
                max_length=32,
                source="number",
                verbose_name="账号（脱敏）",
            ),
        ),
        migrations.AlterField(
            model_name="account",
            name="number",
            field=core.crypto.EncryptedTextField(max_length=32, verbose_name="账号"),
        ),
        migrations.RunPython(encrypt_numbers, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="account",
            name="number_index",
            field=core.crypto.BlindIndexField(
                blank=True,
                db_index=False,
                editable=False,
                max_length=64,
                source="number",
                unique=True,
            ),
        ),
    ]
