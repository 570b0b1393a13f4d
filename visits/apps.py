from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitsConfig(AppConfig):
    name = "visits"
    verbose_name = _("回访")

    def ready(self):
        # Registers what it recomputes when a calendar year is loaded.
        from visits import due_recompute  # noqa: F401
