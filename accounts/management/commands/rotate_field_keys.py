from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from core.crypto import EncryptedTextField, rotate


def encrypted_fields():
    """(model, names of its encrypted fields) for every installed model that has some: the
    customers' personal data, account numbers, complaint phones..."""
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names and not model._meta.proxy:
            yield model, names


class Command(BaseCommand):
    help = (
        "Re-encrypts personal data with the newest of FIELD_ENCRYPTION_KEYS, in chunks of "
        "--chunk rows, each in its own transaction. Safe to interrupt and run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--chunk", type=int, default=2000)

    def handle(self, *args, chunk, **options):
        for model, names in encrypted_fields():
            self._rotate(model, names, chunk)

    def _rotate(self, model, names, chunk):
        quote = connection.ops.quote_name
        meta = model._meta
        columns = ", ".join(quote(meta.get_field(n).column) for n in names)
        pk = quote(meta.pk.column)
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        # Raw column values: the stored ciphertext, not the decrypted field.
        sql = (
            f"SELECT {pk}, {columns} FROM {quote(meta.db_table)} "
            f"WHERE {pk} > %s ORDER BY {pk} LIMIT %s{lock}"
        )
        last_pk = done = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [last_pk, chunk])
                rows = cursor.fetchall()
                if not rows:
                    break
                for row_pk, *values in rows:
                    new = {f: rotate(v) for f, v in zip(names, values) if v}
                    if new:
                        model._base_manager.filter(pk=row_pk).update(**new)
                last_pk = rows[-1][0]
                done += len(rows)
            self.stdout.write(f"{meta.label}: {done} rows re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"done: {meta.label}, {done} rows"))
