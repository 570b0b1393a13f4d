from django.apps import AppConfig


class CallbackAdminConfig(AppConfig):
    """The project itself: settings, URLs, the Celery app and the demo data command."""

    name = "callback_admin"
    verbose_name = "callback_admin"
