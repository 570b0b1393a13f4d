"""sync_schedules: write the table of scheduled jobs (core/schedules.py) into django-celery-beat.

``migrate`` does the same after every run (post-migrate); this command is for an installation
whose beat entries were deleted or renamed by hand, without a migration to run."""

from django.core.management.base import BaseCommand

from core.schedules import SCHEDULES, schedules_sync


class Command(BaseCommand):
    help = (
        "Creates the beat entries of core/schedules.py that are missing and points existing "
        "ones at the current task name (a retimed entry keeps its timing)."
    )

    def handle(self, *args, **options):
        created = schedules_sync()
        self.stdout.write(f"{len(SCHEDULES)} schedules, {created} created")
