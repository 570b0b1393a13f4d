from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from supervision.models import DestructionList
from supervision.retention import destruction_list_execute


class Command(BaseCommand):
    help = "Executes an approved destruction list and prints its certificate."

    def add_arguments(self, parser):
        parser.add_argument("list_id", type=int)

    def handle(self, *args, list_id, **options):
        try:
            certificate = destruction_list_execute(
                destruction_list=DestructionList.objects.get(pk=list_id)
            )
        except (DestructionList.DoesNotExist, ValidationError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"certificate #{certificate.pk}: {certificate.row_count} rows, "
            f"sha256 {certificate.ids_sha256}"
        )
