"""Load mainland China's official holiday plan of a year into the business calendar."""

from django.core.management.base import BaseCommand, CommandError

from core.calendar import CalendarLoadError, calendar_load


class Command(BaseCommand):
    help = (
        "Load the official holidays and 调休 workdays of YEAR from the holidays package. "
        "Years the package does not officially cover are refused: enter them in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("year", type=int)
        parser.add_argument(
            "--force", action="store_true", help="replace the days of a year already loaded"
        )

    def handle(self, *args, year, force, **options):
        try:
            count = calendar_load(year=year, force=force)
        except CalendarLoadError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{year}: {count} days loaded")
