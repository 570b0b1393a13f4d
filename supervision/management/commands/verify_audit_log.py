from django.core.management.base import BaseCommand, CommandError

from supervision.audit_chain import verify_chain


class Command(BaseCommand):
    help = "Verifies the hash chain of the audit log; exit code 1 at the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database, **options):
        ok, broken_id, explanation = verify_chain(using=database)
        if not ok:
            raise CommandError(f"audit log chain BROKEN at {explanation}", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"audit log OK: {explanation}"))
