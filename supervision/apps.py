from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupervisionConfig(AppConfig):
    name = "supervision"
    verbose_name = _("监督")

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import immutability  # noqa: F401  (connects the record guards)
        from .tasks_security import ensure_security_schedules

        post_migrate.connect(ensure_security_schedules, sender=self, dispatch_uid="supervision.schedules")
