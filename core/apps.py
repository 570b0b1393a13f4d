from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("基础")

    def ready(self):
        from django.db.models import ForeignKey, IntegerField

        from core.lookups import InArray
        from core.schedules import schedules_sync

        # AutoField, BigAutoField, BigIntegerField and the other integer fields inherit it.
        IntegerField.register_lookup(InArray)
        ForeignKey.register_lookup(InArray)

        # After the last app's migrations, so django_celery_beat's tables exist.
        post_migrate.connect(schedules_sync, dispatch_uid="core.schedules_sync")
