from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from supervision.models import DestructionList
from supervision.retention import destruction_list_execute


class Command(BaseCommand):
    help = (
        "Executes an approved destruction list and prints its certificate. A list drafted by "
        "the system needs --by: a person other than its approver."
    )

    def add_arguments(self, parser):
        parser.add_argument("list_id", type=int)
        parser.add_argument("--by", help="user name of the person executing the list")

    def handle(self, *args, list_id, by=None, **options):
        executor = None
        if by:
            executor = get_user_model().objects.filter(username=by, is_active=True).first()
            if executor is None:
                raise CommandError(f"no active user {by!r}")
        try:
            certificate = destruction_list_execute(
                destruction_list=DestructionList.objects.get(pk=list_id), by=executor
            )
        except (DestructionList.DoesNotExist, ValidationError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"certificate #{certificate.pk}: {certificate.row_count} rows, "
            f"sha256 {certificate.ids_sha256}"
        )
