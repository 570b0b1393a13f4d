"""Account numbers encrypted at rest: the column holds Fernet ciphertext, exact lookups go
through a blind index (HMAC-SHA256), lists read a masked copy. Existing rows are rewritten in
chunks with the values the historical model's fields compute (they encrypt, index and mask)."""

from types import SimpleNamespace

import core.crypto
import core.masking
from django.db import migrations

CHUNK = 5000


def encrypt_numbers(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    meta = Account._meta
    number, index, masked = (meta.get_field(n) for n in ("number", "number_index", "number_masked"))
    quote = schema_editor.connection.ops.quote_name
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {quote(number.column)} = %s, "
        f"{quote(index.column)} = %s, {quote(masked.column)} = %s WHERE id = %s"
    )
    last = 0
    while True:
        # Read through the field: a plaintext number as it is, an encrypted one decrypted.
        rows = list(
            Account.objects.filter(pk__gt=last).order_by("pk").values_list("pk", "number")[:CHUNK]
        )
        if not rows:
            return
        params = []
        for pk, plain in rows:
            row = SimpleNamespace(number=plain)
            params.append(
                (
                    number.get_prep_value(plain),
                    index.pre_save(row, False),
                    masked.pre_save(row, False),
                    pk,
                )
            )
        with schema_editor.connection.cursor() as cursor:
            cursor.executemany(sql, params)
        last = rows[-1][0]


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
