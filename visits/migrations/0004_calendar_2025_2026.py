# Data migration: mainland China's official business calendar for 2025 and 2026.
from datetime import date

from django.db import migrations

YEARS = (2025, 2026)


def load(apps, schema_editor):
    from visits.calendar import calendar_load

    CalendarYear = apps.get_model("visits", "CalendarYear")
    CalendarDay = apps.get_model("visits", "CalendarDay")
    for year in YEARS:
        if not CalendarYear.objects.filter(year=year).exists():
            calendar_load(year=year, year_model=CalendarYear, day_model=CalendarDay)


def unload(apps, schema_editor):
    CalendarYear = apps.get_model("visits", "CalendarYear")
    CalendarDay = apps.get_model("visits", "CalendarDay")
    for year in YEARS:
        CalendarDay.objects.filter(date__gte=date(year, 1, 1), date__lte=date(year, 12, 31)).delete()
        CalendarYear.objects.filter(year=year).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("visits", "0003_protect_records"),
    ]

    operations = [migrations.RunPython(load, unload)]
