from django.core.management.base import BaseCommand
from django.db import connection, transaction

from accounts.models import Customer
from core.crypto import rotate

FIELDS = ("id_number", "mobile", "landline", "address")


class Command(BaseCommand):
    help = (
        "Re-encrypts personal data with the newest of FIELD_ENCRYPTION_KEYS, in chunks of "
        "--chunk rows, each in its own transaction. Safe to interrupt and run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--chunk", type=int, default=2000)

    def handle(self, *args, chunk, **options):
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f) for f in FIELDS)
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        # Raw column values: the stored ciphertext, not the decrypted field.
        sql = (
            f"SELECT id, {columns} FROM {quote(Customer._meta.db_table)} "
            f"WHERE id > %s ORDER BY id LIMIT %s{lock}"
        )
        last_pk = done = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [last_pk, chunk])
                rows = cursor.fetchall()
                if not rows:
                    break
                for pk, *values in rows:
                    new = {f: rotate(v) for f, v in zip(FIELDS, values) if v}
                    if new:
                        Customer.objects.filter(pk=pk).update(**new)
                last_pk = rows[-1][0]
                done += len(rows)
            self.stdout.write(f"{done} customers re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"done: {done} customers"))
