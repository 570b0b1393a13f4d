"""Mainland China's official business calendar for 2025 and 2026 (国务院办公厅节假日安排), as
literal rows: the exceptions to the Monday-Friday week. Later years: ``manage.py load_calendar``."""

from datetime import date

from django.db import migrations

SOURCE = 'holidays 0.109 (国务院办公厅节假日安排)'

DAYS = [
    (date(2025, 1, 1), False, '元旦'),
    (date(2025, 1, 26), True, '调休上班'),
    (date(2025, 1, 28), False, '农历除夕'),
    (date(2025, 1, 29), False, '春节'),
    (date(2025, 1, 30), False, '春节'),
    (date(2025, 1, 31), False, '春节'),
    (date(2025, 2, 3), False, '休息日（由 2025-01-26 调休）'),
    (date(2025, 2, 4), False, '休息日（由 2025-02-08 调休）'),
    (date(2025, 2, 8), True, '调休上班'),
    (date(2025, 4, 4), False, '清明节'),
    (date(2025, 4, 27), True, '调休上班'),
    (date(2025, 5, 1), False, '劳动节'),
    (date(2025, 5, 2), False, '劳动节'),
    (date(2025, 5, 5), False, '休息日（由 2025-04-27 调休）'),
    (date(2025, 5, 31), False, '端午节'),
    (date(2025, 6, 2), False, '端午节（补假）'),
    (date(2025, 9, 28), True, '调休上班'),
    (date(2025, 10, 1), False, '国庆节'),
    (date(2025, 10, 2), False, '国庆节'),
    (date(2025, 10, 3), False, '国庆节'),
    (date(2025, 10, 6), False, '中秋节'),
    (date(2025, 10, 7), False, '休息日（由 2025-09-28 调休）'),
    (date(2025, 10, 8), False, '休息日（由 2025-10-11 调休）'),
    (date(2025, 10, 11), True, '调休上班'),
    (date(2026, 1, 1), False, '元旦'),
    (date(2026, 1, 2), False, '休息日（由 2026-01-04 调休）'),
    (date(2026, 1, 4), True, '调休上班'),
    (date(2026, 2, 14), True, '调休上班'),
    (date(2026, 2, 16), False, '农历除夕'),
    (date(2026, 2, 17), False, '春节'),
    (date(2026, 2, 18), False, '春节'),
    (date(2026, 2, 19), False, '春节'),
    (date(2026, 2, 20), False, '休息日（由 2026-02-14 调休）'),
    (date(2026, 2, 23), False, '休息日（由 2026-02-28 调休）'),
    (date(2026, 2, 28), True, '调休上班'),
    (date(2026, 4, 5), False, '清明节'),
    (date(2026, 4, 6), False, '清明节（补假）'),
    (date(2026, 5, 1), False, '劳动节'),
    (date(2026, 5, 2), False, '劳动节'),
    (date(2026, 5, 4), False, '劳动节（补假）'),
    (date(2026, 5, 5), False, '休息日（由 2026-05-09 调休）'),
    (date(2026, 5, 9), True, '调休上班'),
    (date(2026, 6, 19), False, '端午节'),
    (date(2026, 9, 20), True, '调休上班'),
    (date(2026, 9, 25), False, '中秋节'),
    (date(2026, 10, 1), False, '国庆节'),
    (date(2026, 10, 2), False, '国庆节'),
    (date(2026, 10, 3), False, '国庆节'),
    (date(2026, 10, 5), False, '国庆节（补假）'),
    (date(2026, 10, 6), False, '休息日（由 2026-09-20 调休）'),
    (date(2026, 10, 7), False, '休息日（由 2026-10-10 调休）'),
    (date(2026, 10, 10), True, '调休上班'),
]


def load(apps, schema_editor):
    CalendarYear = apps.get_model("core", "CalendarYear")
    CalendarDay = apps.get_model("core", "CalendarDay")
    for year in (2025, 2026):
        CalendarYear.objects.get_or_create(year=year, defaults={"source": SOURCE})
    for day, is_working_day, name in DAYS:
        CalendarDay.objects.get_or_create(
            date=day, defaults={"is_working_day": is_working_day, "name": name}
        )


def unload(apps, schema_editor):
    apps.get_model("core", "CalendarDay").objects.filter(date__year__in=(2025, 2026)).delete()
    apps.get_model("core", "CalendarYear").objects.filter(year__in=(2025, 2026)).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
