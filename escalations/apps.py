from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EscalationsConfig(AppConfig):
    name = "escalations"
    verbose_name = _("转办")

    def ready(self):
        # Registers what it recomputes when a calendar year is loaded.
        from escalations import deadlines  # noqa: F401
