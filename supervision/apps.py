from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupervisionConfig(AppConfig):
    name = "supervision"
    verbose_name = _("监督")

    def ready(self):
        from supervision import (
            complaints,  # noqa: F401  (recomputes on calendar loading)
            immutability,  # noqa: F401  (connects the record guards)
        )
