"""Load a year's holiday plan into the business calendar (official, or from a plan file)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.calendar_plans import CalendarLoadError, calendar_year_load, plan_parse


class Command(BaseCommand):
    help = (
        "Load the holidays and 调休 workdays of YEAR: from the holidays package for the years it "
        "covers officially, or from --file plan.csv|json (every date of the year exactly once, "
        "see docs/CALENDAR.md). Provisional due times are recomputed."
    )

    def add_arguments(self, parser):
        parser.add_argument("year", type=int)
        parser.add_argument("--file", help="a plan file: .csv or .json (docs/CALENDAR.md)")
        parser.add_argument(
            "--force", action="store_true", help="replace the days of a year already loaded"
        )

    def handle(self, *args, year, file, force, **options):
        days, source = None, ""
        if file:
            path = Path(file)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"{file}: {exc}") from exc
            try:
                days = plan_parse(year=year, text=text, file_format=path.suffix.lower()[1:])
            except CalendarLoadError as exc:
                raise CommandError(f"{path.name}: {exc}") from exc
            source = f"file {path.name}"
        try:
            result = calendar_year_load(year=year, days=days, source=source, force=force)
        except CalendarLoadError as exc:
            raise CommandError(str(exc)) from exc
        recomputed = ", ".join(f"{k} {v}" for k, v in result["recomputed"].items()) or "-"
        self.stdout.write(
            f"{year}: {result['days']} exceptions to Monday-Friday loaded; "
            f"provisional due times recomputed: {recomputed}"
        )
