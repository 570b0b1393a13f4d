from django.core.management.base import BaseCommand, CommandError

from supervision.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Writes a compressed, checksummed backup and manifest to CALLBACK['BACKUP_DIR']."

    def handle(self, *args, **options):
        try:
            path = backup_create()
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"backup written: {path}"))
