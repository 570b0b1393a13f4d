from django.core.management.base import BaseCommand, CommandError

from supervision.backup import BackupError, backup_verify


class Command(BaseCommand):
    help = (
        "Restores a backup into a scratch database and verifies row counts against its manifest "
        "and the audit-log chain. Never touches the live database (see README for the manual "
        "restore procedure)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--verify", action="store_true", required=True, help="verify mode (the only mode)"
        )

    def handle(self, *args, file, verify, **options):
        try:
            result = backup_verify(file)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(problem)
            raise CommandError("backup verification FAILED", returncode=1)
        self.stdout.write(
            self.style.SUCCESS(
                f"backup OK: {result.tables} tables match the manifest, "
                f"{result.audit_entries} audit entries, chain intact"
            )
        )
